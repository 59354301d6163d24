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

from typing import Any, Callable, List, Optional, Protocol, Tuple

from twisted.logger import Logger

from twisted_pyhandlers._fieldwriter import Field, FieldWriter, answerFields
from twisted_pyhandlers._output import Action, ResponseOutput
from twisted_pyhandlers._response import Writable, WrittenResponse


class H3ResponseStream(Protocol):
    """What the writer asks of its HTTP/3 request stream; every method runs on the reactor."""

    def sendHeaders(self, headers: List[Tuple[bytes, bytes]], end: bool) -> None:
        """A HEADERS frame."""

    def sendData(self, data: bytes, end: bool) -> None:
        """A DATA frame (or only the end of the stream, for empty ``data``)."""

    def reset(self) -> None:
        """Reset the stream (H3_INTERNAL_ERROR)."""


class H3ResponseWriter(FieldWriter):
    """
    Writes a response's frames to one HTTP/3 request stream.

    Every method runs in the handler's thread (or the reactor thread for
    ``async`` handlers); structured calls return False once the stream or
    the connection is gone.
    """

    _log = Logger()

    def __init__(self, output: ResponseOutput, response: WrittenResponse) -> None:
        """Reactor thread (the response is made there)."""
        super().__init__(output, response)
        self._stream: H3ResponseStream = output.twistedRequest.channel  # type: ignore[assignment]

    # -- the reactor hand-over --------------------------------------------------

    def _do(self, work: Callable[[], object], size: int = 0) -> bool:
        """Run ``work`` on the reactor, in order."""
        self.content_written = True
        return self._handOver(Action(work, size))

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
            stream.sendHeaders(answerFields(code, body), False)
            stream.sendData(body, False)

        self._output.answerInstead(Action(answer), 0, code, runTime)

    # -- the head and the body ------------------------------------------------

    def _sendHead(self, fields: List[Field]) -> bool:
        """The HEADERS frame, handed over at once."""
        stream = self._stream
        return self._do(lambda: stream.sendHeaders(fields, False))

    def _sendBody(self, data: bytes) -> bool:
        """DATA frames, the stream left open."""
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
