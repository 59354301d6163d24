"""
HTTP/3 framing of a response: ``response.writer`` on an HTTP/3 request
stream (the ``h3`` port, see :mod:`twisted_pyhandlers._h3request`).

The structured calls of the HTTP/1.1 writer (``write_status``,
``write_header``, ``end_headers``, ``write_content``) make a HEADERS frame
and DATA frames, as on HTTP/2, so that every ordinary handler works
unchanged over HTTP/3.  The handler's thread never touches HTTP/3 state:
each call becomes an :class:`~twisted_pyhandlers._output.Action` that the
response output runs on the reactor, in order, where the stream (an
:class:`H3ResponseStream`) hands it to aioquic.  Raw ``write()`` of bytes
has no meaning on an HTTP/3 stream: it is an error in the log and a reset
of the stream.
"""

from __future__ import annotations

from typing import IO, Any, Callable, List, Optional, Protocol, Tuple, Union

from twisted.logger import Logger

from twisted_pyhandlers._output import Action, ResponseOutput
from twisted_pyhandlers._response import SERVER_VERSION, Writable, WriterBase, WrittenResponse, requiredHeaders

#: Header fields HTTP/3 forbids (RFC 9114 4.2): the structured calls drop them.
CONNECTION_HEADERS = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"})


class H3ResponseStream(Protocol):
    """What the writer asks of its HTTP/3 request stream; every method runs on the reactor."""

    def sendHeaders(self, headers: List[Tuple[bytes, bytes]], end: bool) -> None:
        """A HEADERS frame."""

    def sendData(self, data: bytes, end: bool) -> None:
        """A DATA frame (or only the end of the stream, for empty ``data``)."""

    def reset(self) -> None:
        """Reset the stream (H3_INTERNAL_ERROR)."""


class H3ResponseWriter(WriterBase):
    """
    Writes a response's frames to one HTTP/3 request stream.

    Every method runs in the handler's thread (or the reactor thread for
    ``async`` handlers); structured calls return False once the stream or
    the connection is gone.
    """

    _log = Logger()
    file_chunk_size = 32 * 1024
    default_status = 200

    def __init__(self, output: ResponseOutput, response: WrittenResponse) -> None:
        """Reactor thread (the response is made there)."""
        super().__init__(output, response)
        self._stream: H3ResponseStream = output.twistedRequest.channel  # type: ignore[assignment]
        self._status: Optional[int] = None
        self._headers: List[Tuple[bytes, bytes]] = []
        # The output counts only DATA payloads, so the body starts at 0.
        output.bodyStart = 0

    @property
    def status_written(self) -> bool:
        """Whether a status was given (it goes out with the headers)."""
        return self._status is not None

    @property
    def status_code(self) -> Optional[int]:
        """The status of the response (for the access log), None if none was given."""
        return self._status

    # -- the reactor hand-over --------------------------------------------------

    def _do(self, work: Callable[[], object], size: int = 0) -> bool:
        """Run ``work`` on the reactor, in order."""
        self.content_written = True
        action = Action(work, size)
        if self._pending is not None:
            self._pending.append(action)
            return not self._output.lost
        return self._output.perform(action)

    def _handOverBatch(self, pending: List[Any]) -> None:
        """The frames a batch held go to the reactor as one action, in order."""
        actions: List[Action] = pending

        def runAll() -> None:
            for action in actions:
                action.run()

        self._output.perform(Action(runAll, sum(action.size for action in actions)))

    def write_whole(
        self, status: Tuple[int, Optional[Writable]], headers: Any, content: Writable, withBody: bool
    ) -> Optional[bool]:
        """Not on HTTP/3 (the structured calls, in one batch, make the frames): None, nothing written."""
        return None

    def answerInstead(self, body: Optional[bytes], code: int, runTime: float) -> None:
        """
        The handler was given up on: answer ``code`` with ``body``, or,
        when the handler had written already (``body`` None), reset the
        stream.  Reactor thread.
        """
        stream = self._stream

        def answer() -> None:
            if body is None:
                stream.reset()
                return
            headers = [
                (b":status", b"%d" % code),
                (b"server", SERVER_VERSION),
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"%d" % len(body)),
            ]
            stream.sendHeaders(headers, False)
            stream.sendData(body, False)

        self._output.answerInstead(Action(answer), 0, code, runTime)

    # -- the structured calls ----------------------------------------------------

    def write_status(self, code: int, message: Optional[Writable] = None) -> bool:
        """The status (HTTP/3 has no reason phrase: ``message`` is dropped)."""
        self._status = int(code)
        return not self._output.lost

    def write_header(self, name: Writable, value: Union[Writable, int]) -> bool:
        """One header field for the HEADERS frame (names lower-case, as HTTP/3 wants)."""
        if self._status is None:
            self.write_status(self.default_status)
        nameBytes = self.encode(name).lower()
        self._headers_seen.add(nameBytes)
        valueBytes = b"%d" % (value,) if isinstance(value, int) else self.encode(value)
        if nameBytes not in CONNECTION_HEADERS:
            self._headers.append((nameBytes, valueBytes))
        return not self._output.lost

    def write_default_headers(self) -> bool:
        """Server, Date and (for a body known in full) Content-Length, if missing."""
        return self._defaultHeaders(self._response.content)

    def _defaultHeaders(self, content: Any) -> bool:
        for lower, _, value in requiredHeaders(self._headers_seen, content, self._response.encoding):
            self.write_header(lower, value)
        return not self._output.lost

    def end_headers(self) -> bool:
        """Send the HEADERS frame, with the required headers unless the response says not to."""
        return self._endHeaders(self._response.content)

    def _endHeaders(self, content: Any) -> bool:
        if self._status is None:
            self.write_status(self.default_status)
        if self._response.add_required_headers:
            self._defaultHeaders(content)
        headers = [(b":status", b"%d" % (self._status or self.default_status,))] + self._headers
        self._headers_complete = True
        stream = self._stream
        return self._do(lambda: stream.sendHeaders(headers, False))

    def write_content(self, data: Union[Writable, IO[bytes]]) -> bool:
        """Body data, sending the HEADERS frame first if it has not gone out."""
        if not self._headers_complete:
            self._endHeaders(data)
        return self.write_raw_content(data)

    def write_raw_content(self, data: Union[Writable, IO[bytes]]) -> bool:
        """Body data (text, bytes, or a file-like object read in chunks) as DATA frames."""
        if data is None:
            raise ValueError("data cannot be None")
        if isinstance(data, (str, bytes)):
            return self._data(self.encode(data))
        try:
            while True:
                chunk = data.read(self.file_chunk_size)
                if not chunk:
                    return True
                if not self._data(chunk):
                    return False
        finally:
            data.close()

    def _data(self, data: bytes) -> bool:
        if not data:
            return not self._output.lost
        stream = self._stream
        return self._do(lambda: stream.sendData(data, False), len(data))

    def write(self, data: Writable) -> bool:
        """Raw bytes cannot go on an HTTP/3 stream: log the error and reset the stream."""
        self._log.error(
            "writer.write() of raw bytes on the HTTP/3 stream of {url}: HTTP/3 has no raw byte "
            "stream (use the structured calls); the stream is reset",
            url=self.request.url,
        )
        stream = self._stream
        self._do(stream.reset)
        return False
