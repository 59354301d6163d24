"""
What the writer of every wire format shares: the response it reads, the
headers the server adds (``Server``, ``Date`` and, for a body known in full,
``Content-Length``), and the state the run reads back once ``main`` returns.

:mod:`twisted_pyhandlers._h11writer` frames it as HTTP/1.1 bytes,
:mod:`twisted_pyhandlers._h2writer` as HTTP/2 frames; the rule for which headers
the server adds is written once, here.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, List, Optional, Protocol, Set, Tuple, Union

from twisted.web.http import datetimeToString

from twisted_pyhandlers._filebody import FileBody
from twisted_pyhandlers._output import ResponseOutput

#: The ``Server`` header's value on every answer.
SERVER_VERSION = b"twisted_pyhandlers"

Writable = Union[str, bytes]

_dateCache: Tuple[int, bytes] = (0, b"")


def httpDate() -> bytes:
    """
    The Date header's value for now.  Formatted once per second, not per
    request (any thread; a race only formats the same second twice).
    """
    global _dateCache
    now = int(time.time())
    second, formatted = _dateCache
    if second != now:
        formatted = datetimeToString(now)
        _dateCache = (now, formatted)
    return formatted


class WrittenResponse(Protocol):
    """
    What the writer reads of the response it writes (it never changes it):
    the handler may change any of these until the headers go out.
    """

    request: Any
    content: Any
    encoding: str
    add_required_headers: bool


def knownLength(content: Any, encoding: str) -> Optional[int]:
    """
    The length of a body known in full before it is written (text, bytes,
    or a static file no pipe replaced), else None.  The one place that
    decides which bodies get a Content-Length from the server.
    """
    if isinstance(content, bytes):
        return len(content)
    if isinstance(content, str):
        return len(content.encode(encoding))
    if isinstance(content, FileBody):
        return content.remaining
    return None


def requiredHeaders(seen: Set[bytes], content: Any, encoding: str) -> List[Tuple[bytes, bytes, bytes]]:
    """
    The headers the server adds to a response whose header names written so
    far are ``seen`` (lower case): ``Server``, ``Date`` and, for a body known
    in full (:func:`knownLength`), ``Content-Length``, each unless written,
    in that order, as ``(lower-case name, name, value)``.  Every response
    asks (any thread), so the values come ready as bytes.
    """
    missing: List[Tuple[bytes, bytes, bytes]] = []
    if b"server" not in seen:
        missing.append((b"server", b"Server", SERVER_VERSION))
    if b"date" not in seen:
        missing.append((b"date", b"Date", httpDate()))
    if b"content-length" not in seen:
        length = knownLength(content, encoding)
        if length is not None:
            missing.append((b"content-length", b"Content-Length", b"%d" % length))
    return missing


class WriterBase:
    """
    The part of a response writer that does not depend on the wire format:
    which headers were written, whether the head is complete, text to bytes,
    and waiting for the connection.  Its methods run in the handler's
    thread (the reactor thread for ``async`` handlers).
    """

    def __init__(self, output: ResponseOutput, response: WrittenResponse) -> None:
        self._output = output
        # A weak reference: the response holds its writer, and a strong
        # reference back would make every response a reference cycle, left
        # for the cyclic garbage collector (with its request and all they
        # hold) instead of being freed as soon as it is written.  The
        # response outlives every use of it here: the handler or the server
        # holds it while writing.
        self._response: WrittenResponse = weakref.proxy(response)
        self.request = response.request
        self._headers_seen: Set[bytes] = set()
        self._headers_complete = False
        #: True once anything was written; the server then leaves the
        #: response object and ``main``'s return value alone.
        self.content_written = False

    @property
    def headers_complete(self) -> bool:
        """Whether the header block was ended (on HTTP/2: the HEADERS frame sent)."""
        return self._headers_complete

    def saw_header(self, name: bytes) -> bool:
        """Whether a header named ``name`` (lower-case bytes) was written."""
        return name in self._headers_seen

    def flush(self) -> bool:
        """Return once everything written so far has been handed to the connection."""
        return self._output.flush()

    def encode(self, data: Writable) -> bytes:
        """Convert text to bytes with ``response.encoding``."""
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode(self._response.encoding)
        raise ValueError(f"data {data!r} should be text or binary, but is {type(data)}")
