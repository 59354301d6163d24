"""
What the writer of every wire format shares: the response it reads, the
headers the server adds (``Server``, ``Date`` and, for a body known in full,
``Content-Length``), the state the run reads back once ``main`` returns,
and the grouping of writes into one hand-over (:class:`Batch`).

:mod:`twisted_pyhandlers._h11writer` frames it as HTTP/1.1 bytes,
:mod:`twisted_pyhandlers._h2writer` as HTTP/2 frames; the rule for which headers
the server adds is written once, here.  :class:`ResponseWriterType` is what
the layers above (the run, the response) may ask of either writer: they
never know which wire format they write.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Iterable, List, Optional, Protocol, Set, Tuple, Union

from twisted.web.http import datetimeToString

from twisted_pyhandlers._filebody import FileBody
from twisted_pyhandlers._output import ResponseOutput

#: The ``Server`` header's value on every answer.
SERVER_VERSION = b"twisted_pyhandlers"

#: Bodies up to this size go out in the same hand-over as their headers;
#: larger ones are written on their own, so they are not copied to be joined.
BATCH_BODY_LIMIT = 64 * 1024

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
    logger: Any


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


class ResponseWriterType(Protocol):
    """
    What the run (:mod:`twisted_pyhandlers._run`) and the response
    (:mod:`twisted_pyhandlers._response`) ask of ``response.writer``,
    whichever wire format it writes: wptserve's structured calls, the state
    read back once ``main`` returns, and the answer for a handler given up
    on.  :class:`~twisted_pyhandlers._h11writer.ResponseWriter` and
    :class:`~twisted_pyhandlers._h2writer.H2ResponseWriter` provide it.
    """

    content_written: bool

    @property
    def status_written(self) -> bool: ...

    @property
    def status_code(self) -> Optional[int]: ...

    @property
    def headers_complete(self) -> bool: ...

    def saw_header(self, name: bytes) -> bool: ...

    def batch(self) -> "Batch": ...

    def write_status(self, code: int, message: Optional[Writable] = None) -> bool: ...

    def write_header(self, name: Writable, value: Union[Writable, int]) -> bool: ...

    def end_headers(self) -> bool: ...

    def write_content(self, data: Any) -> bool: ...

    def write_whole(
        self, status: Tuple[int, Optional[Writable]], headers: Iterable[Tuple[Any, Any]], content: Writable, withBody: bool
    ) -> Optional[bool]: ...

    def answerInstead(self, body: Optional[bytes], code: int, runTime: float) -> None: ...


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
        # What the open batch holds (see batch()), None when none is open.
        self._pending: Optional[List[Any]] = None
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

    def batch(self) -> "Batch":
        """
        Hold the writes made inside the ``with`` block and hand them over as
        one, at its end.  Nesting is allowed; the outermost block hands
        over.  Used for a status line with its headers (and a small body),
        which a client cannot tell apart from separate writes, to save
        reactor hand-overs.
        """
        return Batch(self)

    def _handOverBatch(self, pending: List[Any]) -> None:
        """Hand what a batch held (what the writer queued in ``_pending``) to the output as one."""
        raise NotImplementedError

    def encode(self, data: Writable) -> bytes:
        """Convert text to bytes with ``response.encoding``."""
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode(self._response.encoding)
        raise ValueError(f"data {data!r} should be text or binary, but is {type(data)}")


class Batch:
    """
    The context manager of :meth:`WriterBase.batch`, for both wire formats
    (a plain class: this runs per response).  The writer's own calls queue
    what they write in ``writer._pending`` while a batch is open.
    """

    __slots__ = ("_writer", "_outer")

    def __init__(self, writer: WriterBase) -> None:
        self._writer = writer
        self._outer = False

    def __enter__(self) -> None:
        writer = self._writer
        if writer._pending is None:
            writer._pending = []
            self._outer = True

    def __exit__(self, *exc: object) -> None:
        if self._outer:
            writer = self._writer
            pending, writer._pending = writer._pending, None
            if pending:
                writer._handOverBatch(pending)
