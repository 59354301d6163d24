"""
The one pair of str/bytes converters used at every edge.

HTTP header names and values, path segments and query strings are bytes inside
the server.  Handlers may hand us str; wptserve's convention is the
"isomorphic" encoding (ISO-8859-1), which maps code points 0-255 one to one
onto bytes, so nothing a handler writes is ever lost or re-interpreted.
"""

from __future__ import annotations

from typing import Union

StrOrBytes = Union[str, bytes]


def isomorphic_encode(s: StrOrBytes) -> bytes:
    """
    Encode ``s`` to bytes with ISO-8859-1; bytes pass through unchanged.

    :raises TypeError: for anything that is neither str nor bytes.
    """
    if isinstance(s, bytes):
        return s
    if isinstance(s, str):
        return s.encode("iso-8859-1")
    raise TypeError(f"Unexpected value (expecting string-like): {s!r}")


def isomorphic_decode(s: StrOrBytes) -> str:
    """
    Decode ``s`` from bytes with ISO-8859-1; str passes through unchanged.

    :raises TypeError: for anything that is neither str nor bytes.
    """
    if isinstance(s, str):
        return s
    if isinstance(s, bytes):
        return s.decode("iso-8859-1")
    raise TypeError(f"Unexpected value (expecting string-like): {s!r}")


def headerBytes(value: Union[str, bytes, int]) -> bytes:
    """
    Turn a header name or value as handlers give it (str, bytes or int) into
    the bytes that go on the wire.
    """
    if isinstance(value, bool):
        raise TypeError(f"Header value must be str, bytes or int, not {value!r}")
    if isinstance(value, int):
        return b"%d" % (value,)
    return isomorphic_encode(value)
