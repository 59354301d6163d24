"""
``wptserve.utils`` for handlers: the str/bytes helpers, HTTPException, and
wptserve's small port and error helpers.
"""

from __future__ import annotations

import socket
import ssl
from typing import Dict, List, TypeVar

from twisted_pyhandlers._encoding import isomorphic_decode, isomorphic_encode
from twisted_pyhandlers._errors import HTTPException, errorCause
from twisted_pyhandlers.compat.wptserve.logger import get_logger

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

#: The ports a browser refuses to fetch from
#: (https://fetch.spec.whatwg.org/#port-blocking), exactly as wptserve 4.0.3
#: lists them.
_BAD_PORTS = frozenset(
    {
        1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95,
        101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161,
        179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563,
        587, 601, 636, 989, 993, 995, 999, 1719, 1720, 1723, 2049, 3659, 4045, 4190,
        5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
    }
)


def is_bad_port(port: int) -> bool:
    """Whether browsers refuse ``port`` (the Fetch standard's bad ports)."""
    return port in _BAD_PORTS


def get_port(host: str = "") -> int:
    """
    A port the system says is free on ``host`` (default 127.0.0.1) and that
    browsers do not refuse.  As in wptserve, the port is free when this
    returns, not reserved: something else may take it before it is used.
    Blocks briefly (a bind and a close); call it from a handler thread.
    """
    host = host or "127.0.0.1"
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port: int = probe.getsockname()[1]
        if not is_bad_port(port):
            return port


def http2_compatible() -> bool:
    """Whether the TLS library is new enough for HTTP/2 (OpenSSL 1.0.2+), as wptserve checks."""
    if not ssl.OPENSSL_VERSION.startswith("OpenSSL"):
        return True
    major, minor, fix = ssl.OPENSSL_VERSION_INFO[:3]
    return major > 1 or (major == 1 and (minor == 1 or (minor == 0 and fix >= 2)))


__all__ = [
    "HTTPException",
    "get_error_cause",
    "get_logger",
    "get_port",
    "http2_compatible",
    "invert_dict",
    "is_bad_port",
    "isomorphic_decode",
    "isomorphic_encode",
]
