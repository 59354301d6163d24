"""``wptserve.utils`` for handlers: the str/bytes helpers and HTTPException."""

from __future__ import annotations

from typing import Dict, List, TypeVar

from twisted_pyhandlers._encoding import isomorphic_decode, isomorphic_encode
from twisted_pyhandlers._errors import HTTPException, errorCause

KT = TypeVar("KT")
VT = TypeVar("VT")


def invert_dict(mapping: Dict[KT, List[VT]]) -> Dict[VT, KT]:
    """Map each value of each list back to its key, refusing duplicates (as wptserve)."""
    inverted: Dict[VT, KT] = {}
    for key, values in mapping.items():
        for value in values:
            if value in inverted:
                raise ValueError
            inverted[value] = key
    return inverted


#: wptserve's name for it.
get_error_cause = errorCause


__all__ = ["HTTPException", "get_error_cause", "invert_dict", "isomorphic_decode", "isomorphic_encode"]
