"""
HTTP/1.1 framing of a response: ``response.writer``, direct control of the
bytes on the wire.

This is wptserve's ``ResponseWriter`` API, method for method, on top of a
:class:`~twisted_pyhandlers._output.ResponseOutput`.  Everything a handler
writes through it goes to the connection exactly as given and in order; the
only bytes the server adds are the required headers that ``end_headers``
adds (Server, Date, Content-Length) unless ``response.add_required_headers``
is False — as in wptserve.

The normal response path (``response.write()`` after ``main`` returns) uses
this same writer, so there is one way bytes reach a client.  To keep a
small response to one reactor call, the server groups the status line, the
headers and a body known in full into one :meth:`ResponseWriter.batch`.

This module is the one place that knows HTTP/1.1's bytes: the status line
(:func:`statusLine`), a whole response built at once (:func:`wholeResponse`:
the server's own refusals, the 504 for a handler given up on), and where
a head ends (:class:`HeadScanner`, for bytes a handler writes raw).
"""

from __future__ import annotations

import functools
import re
from typing import IO, Any, List, Optional, Sequence, Set, Tuple, Union

from twisted_pyhandlers._encoding import isomorphic_encode
from twisted_pyhandlers._output import ResponseOutput
from twisted_pyhandlers._reasons import REASONS
from twisted_pyhandlers._response import (
    SERVER_VERSION,
    Writable,
    WriterBase,
    WrittenResponse,
    httpDate,
    requiredHeaders,
)


def _buildStatusLine(code: int, message: Optional[Writable]) -> bytes:
    # Always HTTP/1.1, whatever the client spoke: a server answers with the
    # highest version it supports (RFC 9110 6.2), and wptserve does.
    return b"HTTP/1.1 %d %s\r\n" % (code, isomorphic_encode(REASONS.get(code, "") if message is None else message))


_cachedStatusLine = functools.lru_cache(maxsize=256)(_buildStatusLine)


def statusLine(code: int, message: Optional[Writable] = None) -> bytes:
    """
    The status line for ``code`` and ``message`` (wptserve's default reason
    when None), line end included: the one place it is built.  Remembered
    (a suite answers with a few of them, again and again), unless the
    reason cannot be (unhashable).  Any thread.
    """
    try:
        return _cachedStatusLine(code, message)
    except TypeError:  # a reason that cannot be remembered: made here
        return _buildStatusLine(code, message)


def wholeResponse(
    code: int, message: Optional[Writable], headers: Sequence[Tuple[bytes, bytes]], body: bytes
) -> Tuple[bytes, int]:
    """
    A whole HTTP/1.1 response, built at once: the status line, ``headers``
    as given, the end of the head, ``body``.

    :return: the bytes, and the length of their head (the access log counts
        the body only).
    """
    head = statusLine(code, message) + b"".join(b"%s: %s\r\n" % header for header in headers) + b"\r\n"
    return head + body, len(head)


#: The start of a status line: its code.
_STATUS_LINE = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})")

#: How much of the response's start is kept to find its status line and
#: the end of its header block in bytes a handler writes raw; a head
#: longer than this is not looked into further (its body counts as none).
_HEAD_SCAN_LIMIT = 1024 * 1024


class HeadScanner:
    """
    Finds, in the bytes of one response as they are written (by the
    writer's methods or raw), the status code of its status line and where
    its header block ends: the access log's status and size fields count
    what went on the wire, whoever wrote it.  Interim (1xx) responses
    before the final one are part of the head; ``101 Switching
    Protocols`` is final.  A header block ends at the first empty line
    (``CRLF CRLF``, or bare ``LF LF``).

    Used by one writing thread at a time (the handler's).

    :ivar code: the final status code, None until a status line is seen.
    :ivar bodyStart: the offset of the body, None until the head ends.
    """

    __slots__ = ("code", "bodyStart", "_head", "_offset", "done")

    def __init__(self) -> None:
        self.code: Optional[int] = None
        self.bodyStart: Optional[int] = None
        # The bytes of the response (message) being scanned, and the offset
        # of their first byte in everything written.
        self._head = b""
        self._offset = 0
        #: True once the head ended, or was too long to look into.
        self.done = False

    def skip(self, data: bytes) -> None:
        """
        Pass over ``data``, written by the writer's own framing calls: what
        they write is known (:meth:`noteStatus`, :meth:`noteHeadEnd`), so
        it is not searched; the last bytes are kept, so that a head ended by
        raw bytes after them is still found.
        """
        if self.done:
            return
        head = self._head + data
        keep = head[-3:]
        self._offset += len(head) - len(keep)
        self._head = keep

    def noteStatus(self, code: int) -> None:
        """The writer wrote a status line with ``code``."""
        if not self.done:
            self.code = code

    def noteHeadEnd(self) -> None:
        """The writer ended a header block (with the bytes just skipped)."""
        if self.done or self.code is None:
            return
        end = self._offset + len(self._head)
        self._head = b""
        if 100 <= self.code < 200 and self.code != 101:
            # A 1xx before the final response: look for the next head.
            self._offset = end
            self.code = None
            return
        self.bodyStart = end
        self.done = True

    def feed(self, data: bytes) -> None:
        """Look at the next ``data`` written (raw bytes)."""
        if self.done:
            return
        head = self._head + data
        while True:
            if len(head) > _HEAD_SCAN_LIMIT:
                self._head = b""
                self.done = True
                return
            ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
            match = _STATUS_LINE.match(head)
            if not ends:
                if match is not None:
                    self.code = int(match.group(1))
                self._head = head
                return
            end = min(ends) + (4 if head.startswith(b"\r\n\r\n", min(ends)) else 2)
            if match is not None:
                self.code = int(match.group(1))
            interim = self.code is not None and 100 <= self.code < 200 and self.code != 101
            if not interim:
                self.bodyStart = self._offset + end
                self._head = b""
                self.done = True
                return
            # A 1xx before the final response: scan on for the next head.
            self._offset += end
            head = head[end:]
            self.code = None


class ResponseWriter(WriterBase):
    """
    Writes a response's parts to the connection, as wptserve's writer does.

    Every method runs in the handler's thread (or the reactor thread for
    ``async`` handlers) and returns a bool: False once the client has gone
    away, so a handler in a write loop can stop.

    :ivar content_written: True once anything was written; the server then
        leaves the response object and ``main``'s return value alone.
    :ivar file_chunk_size: how much of a file-like body is read at a time.
    :ivar default_status: the status written when a header or content comes
        before any status line.
    """

    file_chunk_size = 32 * 1024
    default_status = 200

    def __init__(self, output: ResponseOutput, response: WrittenResponse) -> None:
        super().__init__(output, response)
        self._status_written = False
        self._head = HeadScanner()

    # -- what the server reads after main returns -----------------------------

    @property
    def status_written(self) -> bool:
        """Whether a status line went out."""
        return self._status_written

    @property
    def status_code(self) -> Optional[int]:
        """
        The status code of the status line written (through
        :meth:`write_status` or raw bytes), None if none was; 1xx interim
        responses do not count.
        """
        return self._head.code

    # -- wptserve's API ------------------------------------------------------

    def write_status(self, code: int, message: Optional[Writable] = None) -> bool:
        """Write the status line, with wptserve's default reason if none is given."""
        line = statusLine(code, message)
        self._status_written = True
        self._head.noteStatus(code)
        return self._frame(line)

    def write_header(self, name: Writable, value: Union[Writable, int]) -> bool:
        """
        Write one header line as given (case and all).  Writes the default
        status line first if none was written.
        """
        if not self._status_written:
            self.write_status(self.default_status)
        nameBytes = self.encode(name)
        self._headers_seen.add(nameBytes.lower())
        valueBytes = b"%d" % (value,) if isinstance(value, int) else self.encode(value)
        return self._frame(b"%s: %s\r\n" % (nameBytes, valueBytes))

    def write_default_headers(self) -> bool:
        """Write Server, Date and (for a body known in full) Content-Length if missing."""
        return self._writeDefaultHeaders(self._response.content)

    def _writeDefaultHeaders(self, content: Any) -> bool:
        """The required headers for ``content`` (:func:`~twisted_pyhandlers._writer.requiredHeaders`), unless written."""
        for _, name, value in requiredHeaders(self._headers_seen, content, self._response.encoding):
            if not self.write_header(name, value):
                return False
        return True

    def end_headers(self) -> bool:
        """
        End the header block, adding the required headers unless the
        response says not to.  Without a Content-Length the connection
        closes after the body, as in wptserve (the run decides that when it
        finishes the response).
        """
        return self._endHeaders(self._response.content)

    def _endHeaders(self, content: Any) -> bool:
        """End the header block; the required headers describe ``content``."""
        with self.batch():
            if self._response.add_required_headers:
                if not self._writeDefaultHeaders(content):
                    return False
            if not self._frame(b"\r\n"):
                return False
            head = self._head
            head.noteHeadEnd()
            if head.bodyStart is not None:
                self._output.bodyStart = head.bodyStart
        self._headers_complete = True
        return True

    def write_whole(
        self, status: Tuple[int, Optional[Writable]], headers: Any, content: Writable, withBody: bool
    ) -> Optional[bool]:
        """
        Write a whole response whose body is known in full, in one piece:
        the same bytes as :meth:`write_status`, :meth:`write_header` for
        each of ``headers``, :meth:`end_headers` and :meth:`write_content`
        (left out when not ``withBody``, for HEAD) would write, built with
        one join instead of a dozen calls, before anything else was
        written.  Worker thread.

        :return: what the write returned; None, with nothing written, when
            a header name or value is neither text, bytes nor (a value) an
            int: the step-by-step path then writes what it can and raises
            as before.
        """
        encode = self.encode
        response = self._response
        code, message = status
        seen: Set[bytes] = set()
        parts = [statusLine(code, message)]
        try:
            for name, value in headers:
                nameBytes = name if name.__class__ is bytes else encode(name)
                seen.add(nameBytes.lower())
                if value.__class__ is bytes:
                    parts.append(b"%s: %s\r\n" % (nameBytes, value))
                elif isinstance(value, int):
                    parts.append(b"%s: %d\r\n" % (nameBytes, value))
                else:
                    parts.append(b"%s: %s\r\n" % (nameBytes, encode(value)))
            body = content if content.__class__ is bytes else encode(content)
        except ValueError:
            return None
        if response.add_required_headers:
            for lower, name, value in requiredHeaders(seen, body, response.encoding):
                seen.add(lower)
                parts.append(b"%s: %s\r\n" % (name, value))
        parts.append(b"\r\n")
        head = b"".join(parts)
        self._status_written = True
        self._headers_seen = seen
        scanner = self._head
        scanner.noteStatus(code)
        scanner.skip(head)
        scanner.noteHeadEnd()
        if scanner.bodyStart is not None:
            self._output.bodyStart = scanner.bodyStart
        self._headers_complete = True
        return self._send(head + body if withBody else head)

    def write_content(self, data: Union[Writable, IO[bytes]]) -> bool:
        """
        Write body data, first completing the status line and headers (and
        the required headers for ``data``) if that has not happened yet.
        """
        if not self._status_written:
            self.write_status(self.default_status)
        if not self._headers_complete:
            self._endHeaders(data)
        return self.write_raw_content(data)

    def write_raw_content(self, data: Union[Writable, IO[bytes]]) -> bool:
        """Write ``data`` (text, bytes or a file-like object) as is."""
        if data is None:
            raise ValueError("data cannot be None")
        if isinstance(data, (str, bytes)):
            return self.write(data)
        return self.write_content_file(data)

    def write(self, data: Writable) -> bool:
        """Write raw bytes (text is encoded with ``response.encoding``)."""
        encoded = data if data.__class__ is bytes else self.encode(data)
        head = self._head
        if not head.done:
            head.feed(encoded)
            if head.bodyStart is not None:
                self._output.bodyStart = head.bodyStart
        return self._send(encoded)

    def _frame(self, data: bytes) -> bool:
        """
        Write bytes of the writer's own framing (a status line, a header
        line, the end of the head), which the head scanner need not search.
        """
        self._head.skip(data)
        return self._send(data)

    def _send(self, encoded: bytes) -> bool:
        """Hand ``encoded`` to the output (or the open batch)."""
        self.content_written = True
        if self._pending is not None:
            self._pending.append(encoded)
            return not self._output.lost
        return self._output.write(encoded)

    def write_content_file(self, data: IO[bytes]) -> bool:
        """Copy a file-like object to the connection in chunks, then close it."""
        self.content_written = True
        try:
            while True:
                chunk = data.read(self.file_chunk_size)
                if not chunk:
                    return True
                if not self.write(chunk):
                    return False
        finally:
            data.close()

    # -- grouping and giving up -------------------------------------------------

    def _handOverBatch(self, pending: List[Any]) -> None:
        """What a batch held goes to the output in one write."""
        self._output.write(b"".join(pending))

    def answerInstead(self, body: Optional[bytes], code: int, runTime: float) -> None:
        """
        The handler was given up on (the output was taken over): answer a
        whole plain-text response with ``code`` and ``body`` in its place,
        or, when the handler had written already (``body`` None), nothing
        (the connection closes).  Reactor thread.
        """
        if body is None:
            self._output.answerInstead(None, 0, code, runTime)
            return
        data, headLength = wholeResponse(
            code,
            None,
            [
                (b"Server", SERVER_VERSION),
                (b"Date", httpDate()),
                (b"Content-Type", b"text/plain; charset=utf-8"),
                (b"Content-Length", b"%d" % len(body)),
                (b"Connection", b"close"),
            ],
            body,
        )
        self._output.answerInstead(data, headLength, code, runTime)
