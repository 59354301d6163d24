"""
The checks a received HTTP/2 header block must pass (RFC 9113 8.2 and 8.3),
made in one pass, and whether a response's fields need h2's normalisation.

They are the checks of h2 4.4's own ``h2.utilities.validate_headers``, rule
for rule: the ``h2`` port turns h2's inbound validation off
(``validate_inbound_headers``) and runs :func:`checkReceivedHeaders` on each
request's and trailers' header block instead.  h2 runs its checks as a
pipeline of eight generators, each looking at every field; on a tiny
request that pipeline alone was about a twentieth of the server's CPU per
HTTP/2 request (``docs/performance.rst``, "HTTP/2 per request").  A block
h2 would refuse is refused here, with the same :class:`ProtocolError`, and
the connection ends the same way (``GOAWAY PROTOCOL_ERROR``);
``tests/test_h2_validation.py`` compares the two on generated blocks.
When h2 is upgraded, read its ``validate_headers`` again: a rule it adds
is caught by that test only if the generated blocks happen to break it.

Runs on the reactor thread (any thread: it keeps no state).
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence, Set, Tuple

from h2.exceptions import ProtocolError

#: What a field name may hold (RFC 9113 8.2.1): no control characters, no
#: space, no upper case, nothing past 0x7e, and no colon (a pseudo-header's
#: leading colon is looked at apart).
_NAME = re.compile(rb"[!-9;-@\[-~]+")

#: What a field value may not hold anywhere (RFC 9113 8.2.1): NUL, LF or CR.
_CONTROL = re.compile(rb"[\x00\n\r]")

#: What a field value may not start or end with (RFC 9113 8.2.1).
_BLANK = b" \t"

#: The pseudo-header fields a request may carry.
_REQUEST_PSEUDO = frozenset({b":method", b":scheme", b":authority", b":path", b":protocol"})

#: Every pseudo-header field name there is (a response's ``:status``
#: included: a request carrying it is refused for that, not as unknown).
_PSEUDO = _REQUEST_PSEUDO | {b":status"}

#: Connection-specific fields, which HTTP/2 forbids (RFC 9113 8.2.2).
_CONNECTION = frozenset({b"connection", b"proxy-connection", b"keep-alive", b"transfer-encoding", b"upgrade"})


#: Names h2's normalisation or checks of a response's fields would change
#: or refuse (besides pseudo-header fields past the first): the
#: connection-specific ones, ``TE``, and the ones it never indexes.
_NOT_PLAIN = _CONNECTION | {b"te", b"authorization", b"proxy-authorization", b"cookie"}


def isPlainResponse(fields: Sequence[Tuple[bytes, bytes]]) -> bool:
    """
    Whether h2's normalisation and checks of outgoing fields
    (``normalize_outbound_headers``, ``validate_outbound_headers``) would
    let these response fields through unchanged: ``:status`` first and no
    other pseudo-header field, names in lower case and not empty, no
    connection-specific field, no ``TE``, no field h2 never indexes, and
    nothing to strip around a name or a value.  The HTTP/2 writer's whole responses are
    almost always so; for them the connection may skip h2's pipeline.
    """
    if not fields or fields[0][0] != b":status":
        return False
    for name, value in fields:
        if name.lower() != name or name.strip() != name or value.strip() != value:
            return False
    for name, _ in fields[1:]:
        if not name or name[:1] == b":" or name in _NOT_PLAIN:
            return False
    return True


def checkReceivedHeaders(headers: Iterable[Tuple[bytes, bytes]], trailers: bool = False) -> None:
    """
    Check a header block received on a server's stream: a request's (its
    pseudo-header fields, and its ``:authority`` or ``Host``) or, with
    ``trailers``, a request's trailers (no pseudo-header fields at all).

    :raises ProtocolError: if h2's ``validate_headers`` would refuse it.
    """
    pseudo: Set[bytes] = set()
    regular = False
    method: Optional[bytes] = None
    authority: Optional[bytes] = None
    host: Optional[bytes] = None
    for name, value in headers:
        if not name:
            raise ProtocolError("Received header name with zero length.")
        if name[0] == 0x3A:
            if name not in _PSEUDO:
                raise ProtocolError(f"Received custom pseudo-header field {name!r}")
            if name in pseudo:
                raise ProtocolError(f"Received duplicate pseudo-header field {name!r}")
            if regular:
                raise ProtocolError(f"Received pseudo-header field out of sequence: {name!r}")
            pseudo.add(name)
            if name == b":method":
                method = value
            elif name == b":authority":
                authority = value
            elif name == b":path" and not value and not trailers:
                raise ProtocolError("An empty :path header is forbidden")
        else:
            regular = True
            if _NAME.fullmatch(name) is None:
                raise ProtocolError(f"Illegal character in header name: {name!r}")
            if name in _CONNECTION:
                raise ProtocolError(f"Connection-specific header field present: {name!r}.")
            if name == b"te" and value.lower() != b"trailers":
                raise ProtocolError(f"Invalid value for TE header: {value!r}")
            if name == b"host" and not trailers:
                if host is not None:
                    raise ProtocolError("Request header block has multiple Host headers.")
                host = value
        if value and (value[0] in _BLANK or value[-1] in _BLANK or _CONTROL.search(value) is not None):
            raise ProtocolError(f"Illegal character or surrounding whitespace in header value: {value!r}")
    if trailers:
        if pseudo:
            raise ProtocolError(f"Received pseudo-header in trailer {pseudo}")
        return
    _checkRequestPseudo(pseudo, method)
    if authority is None and host is None:
        raise ProtocolError("Request header block does not have an :authority or Host header.")
    if authority is not None and host is not None and authority != host:
        raise ProtocolError(
            f"Request header block has mismatched :authority and Host headers: {authority!r} / {host!r}"
        )


def _checkRequestPseudo(pseudo: Set[bytes], method: Optional[bytes]) -> None:
    """A request's pseudo-header fields, as RFC 9113 8.3.1 and RFC 8441 4 want them."""
    if b":method" not in pseudo:
        raise ProtocolError("Header block missing mandatory b':method' header")
    if b":status" in pseudo:
        raise ProtocolError("Encountered response-only headers {b':status'}")
    connect = method == b"CONNECT"
    if connect and b":protocol" not in pseudo:
        # Ordinary CONNECT: no :scheme, no :path.
        if b":scheme" in pseudo or b":path" in pseudo:
            raise ProtocolError("Ordinary CONNECT MUST NOT include :scheme or :path")
        return
    if b":scheme" not in pseudo or b":path" not in pseudo:
        raise ProtocolError("Header block missing mandatory :scheme or :path header")
    if not connect and b":protocol" in pseudo:
        raise ProtocolError("Encountered connect-request-only headers {b':protocol'}")
