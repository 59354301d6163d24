"""``wptserve.utils`` for handlers: the str/bytes helpers and HTTPException."""

from __future__ import annotations

from typing import Dict, List, TypeVar

from twisted_pyhandlers.encoding import isomorphic_decode, isomorphic_encode
from twisted_pyhandlers.errors import HTTPException

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


def get_error_cause(exc: BaseException) -> BaseException:
    """The exception behind ``exc`` (its cause, else its context, else itself)."""
    if exc.__cause__ is not None:
        return exc.__cause__
    if exc.__context__ is not None:
        return exc.__context__
    return exc


__all__ = ["HTTPException", "get_error_cause", "invert_dict", "isomorphic_decode", "isomorphic_encode"]
