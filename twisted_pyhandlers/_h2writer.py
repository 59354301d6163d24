"""
HTTP/2 framing of a response: ``response.writer`` on an HTTP/2 stream.

This is wptserve 4.0.3's ``H2ResponseWriter`` API (``write_headers``,
``write_data``, ``write_data_frame``, ``write_push``, ``end_stream``, the
``write_raw_*_frame`` calls, ``get_max_payload_size``), plus the structured
calls of the HTTP/1.1 writer (``write_status``, ``write_header``,
``end_headers``, ``write_content``), which here make a HEADERS frame and
DATA frames, so that every ordinary handler works unchanged over HTTP/2.

The handler's thread never touches HTTP/2 state: each call becomes an
:class:`~twisted_pyhandlers._output.Action` that the response output
runs on the reactor thread, in order, where
:class:`~twisted_pyhandlers._h2protocol.HandlerH2Connection` turns it into
frames.  The calls that answer something (``write_push``'s stream id,
``get_max_payload_size``) wait for the reactor.

Raw ``write()`` of bytes has no meaning on an HTTP/2 stream (HTTP/1.1 bytes
would corrupt the connection).  On ``wpt serve`` it raises in the handler
(wptserve's HTTP/2 writer has no structured calls and no ``write`` of
bytes), and the handler's error is answered 500; so here too, as long as
nothing of the response reached the wire: the HEADERS frame of the
structured calls (``end_headers``) is held until the next frame, the
handler's end, or ``flush()``, so that ``write_status``, ``write_header``,
``end_headers`` then ``write(body)`` (as wpt's
``fetch/cross-origin-resource-policy/resources/image.py`` does) is a 500
with the error, not a 200 whose stream breaks.  Once frames went out, a raw
write is an error in the log and a reset of the stream.
"""

from __future__ import annotations

from io import BytesIO
from typing import IO, Any, Callable, Iterable, List, Optional, Tuple, Union

import h2.exceptions
from hyperframe.frame import ContinuationFrame, DataFrame, HeadersFrame
from twisted.logger import Logger

from twisted_pyhandlers._encoding import isomorphic_decode
from twisted_pyhandlers._fieldwriter import Field, FieldWriter, answerFields
from twisted_pyhandlers._output import Action, ResponseOutput
from twisted_pyhandlers._response import Writable, WrittenResponse

Header = Tuple[Any, Any]

#: The pseudo-header names wptserve's ``write_headers`` prefixes with ":".
H2_PSEUDO_HEADERS = frozenset({"method", "scheme", "host", "path", "authority", "status"})

class RawWriteOnHTTP2(TypeError):
    """``writer.write()`` of raw bytes on an HTTP/2 stream, before any frame went out."""


class H2ResponseWriter(FieldWriter):
    """
    Writes a response's frames to one HTTP/2 stream.

    Every method runs in the handler's thread (or the reactor thread for
    ``async`` handlers).  Methods of the structured API return a bool as
    on HTTP/1.1: False once the stream or the connection is gone.

    :ivar content_written: True once anything was written; the server then
        leaves the response object alone.
    :ivar stream_ended: True once the handler ended its stream.
    """

    _log = Logger()
    #: A handler is not started for a stream reset before it started.
    startsWhenClientGone = False

    def __init__(self, output: ResponseOutput, response: WrittenResponse) -> None:
        """Reactor thread (the response is made there)."""
        super().__init__(output, response)
        # An HTTP/2 writer is made only for a request of a HandlerH2Stream
        # (its writerClass): the stream names its connection.
        stream: Any = output.twistedRequest.channel
        self._connection: Any = stream.connection
        self.stream_id: int = stream.streamID
        self.logger = response.logger
        self.stream_ended = False
        # The HEADERS of end_headers, held until the next frame (see the
        # module docstring), and whether any frame was handed over.
        self._held: Optional[List[Field]] = None
        self._handedOver = False

    # -- the reactor hand-over --------------------------------------------------

    def _sendHeld(self) -> None:
        """Hand over the held HEADERS frame, if any, before what comes next."""
        if self._held is not None:
            headers, self._held = self._held, None
            streamID = self.stream_id
            self._do(lambda: self._connection.sendHeaders(streamID, headers, False))

    def end(self) -> None:
        """The handler is done writing: the held HEADERS frame goes out."""
        self._sendHeld()

    def flush(self) -> bool:
        """The held HEADERS frame goes out, and this returns once everything was handed to the connection."""
        self._sendHeld()
        return super().flush()

    def _do(self, work: Callable[[], object], size: int = 0) -> bool:
        """Run ``work`` on the reactor in order; a failure there resets the stream."""
        self._sendHeld()
        self.content_written = True
        self._handedOver = True
        streamID, connection = self.stream_id, self._connection
        url = self.request.url

        def run() -> None:
            try:
                work()
            except (h2.exceptions.ProtocolError, ValueError, KeyError) as error:
                self._log.error(
                    "HTTP/2 write on stream {stream} of {url} failed ({error}); the stream is reset",
                    stream=streamID,
                    url=url,
                    error=f"{type(error).__name__}: {error}",
                )
                connection.resetStream(streamID)

        return self._handOver(Action(run, size))

    def write_whole(
        self, status: Tuple[int, Optional[Writable]], headers: Any, content: Writable, withBody: bool
    ) -> Optional[bool]:
        """
        A whole response whose body is known in full, before anything else
        was written: its HEADERS and DATA go to the connection as one
        action, which sends them ending the stream, in one write when the
        stream's window takes the body (see
        :meth:`~twisted_pyhandlers._h2protocol.HandlerH2Connection.sendResponse`).
        The frames carry what the structured calls would send.  Worker
        thread.

        :return: what the hand-over returned; None, with nothing written,
            when a header name or value is neither text, bytes nor (a
            value) an int (see :meth:`FieldWriter._wholeHead`).
        """
        whole = self._wholeHead(status, headers, content)
        if whole is None:
            return None
        fields, body = whole
        if not withBody:
            body = b""
        streamID, connection = self.stream_id, self._connection
        return self._do(lambda: connection.sendResponse(streamID, fields, body), len(body))

    def answerInstead(self, body: Optional[bytes], code: int, runTime: float) -> None:
        """
        The handler was given up on (the output was taken over): answer
        ``code`` with ``body`` on the stream, or, when the handler had
        written already (``body`` None), reset the stream.  Reactor thread.
        """
        connection, streamID = self._connection, self.stream_id

        def answer() -> None:
            if body is None:
                connection.resetStream(streamID)
                return
            connection.sendHeaders(streamID, answerFields(code, body), False)
            connection.sendData(streamID, body, True)

        self._output.answerInstead(Action(answer), 0, code, runTime)

    # -- the structured calls (as the HTTP/1.1 writer) ----------------------------

    def _sendHead(self, fields: List[Field]) -> bool:
        """Hold the HEADERS frame until the next frame, the handler's end or ``flush()`` (see the module docstring)."""
        self._held = fields
        self.content_written = True
        return not self._output.lost

    def _sendBody(self, data: bytes) -> bool:
        """DATA frames, the stream left open."""
        return self._data(data, False, None)

    def write(self, data: Writable) -> bool:
        """
        Raw bytes cannot go on an HTTP/2 stream.  Before any frame went
        out, this raises (the response is forgotten, so the handler's error
        is answered 500, as on ``wpt serve``); after, it logs the error and
        resets the stream (the connection and its other streams go on).

        :raises RawWriteOnHTTP2: if nothing reached the wire yet.
        """
        if not self._handedOver:
            self._held = None
            self._status = None
            self._headers = []
            self._headers_seen = set()
            self._headers_complete = False
            self.content_written = False
            raise RawWriteOnHTTP2(
                "writer.write() of raw bytes on an HTTP/2 stream: HTTP/2 has no raw byte stream "
                "(use write_content, write_data or the write_raw_*_frame calls)"
            )
        self._log.error(
            "writer.write() of raw bytes on the HTTP/2 stream {stream} of {url}: HTTP/2 has no raw "
            "byte stream (use write_data or the write_raw_*_frame calls); the stream is reset",
            stream=self.stream_id,
            url=self.request.url,
        )
        self.stream_ended = True
        streamID = self.stream_id
        self._do(lambda: self._connection.resetStream(streamID))
        return False

    # -- wptserve's HTTP/2 calls -------------------------------------------------

    def write_headers(
        self,
        headers: Iterable[Header],
        status_code: Union[int, str],
        status_message: Optional[Writable] = None,
        stream_id: Optional[int] = None,
        last: bool = False,
    ) -> bool:
        """
        A HEADERS frame through the stream's state machine, as wptserve:
        names among :data:`H2_PSEUDO_HEADERS` get a ":" prefix and go first,
        ``:status`` after them, then the rest; ``last`` (or a HEAD request)
        ends the stream.
        """
        pseudo: List[Tuple[str, str]] = []
        rest: List[Tuple[str, str]] = []
        for name, value in headers:
            nameText = name.decode("ascii") if isinstance(name, bytes) else str(name)
            valueText = self.decode(value) if isinstance(value, bytes) else str(value)
            if nameText in H2_PSEUDO_HEADERS:
                pseudo.append((":" + nameText, valueText))
            else:
                rest.append((nameText, valueText))
        formatted = pseudo + [(":status", str(status_code))] + rest
        end = last or self.request.method == "HEAD"
        streamID = self.stream_id if stream_id is None else stream_id
        if streamID == self.stream_id:
            self._headers_complete = True
            if self._status is None:
                self._status = int(status_code)
            if end:
                self.stream_ended = True
        return self._do(lambda: self._connection.sendHeaders(streamID, formatted, end))

    def write_data(self, item: Union[Writable, IO[bytes]], last: bool = False, stream_id: Optional[int] = None) -> bool:
        """DATA frames for ``item`` (text, bytes or a file-like object); ``last`` ends the stream."""
        if isinstance(item, (str, bytes)):
            return self._data(self.encode(item), last, stream_id)
        # A file-like body of the handler's own: wptserve's test, kept.
        stream = item if hasattr(item, "seek") else BytesIO(item.read())
        stream.seek(0)
        return self._data(stream.read(), last, stream_id)

    def write_data_frame(self, data: bytes, last: bool, stream_id: Optional[int] = None) -> bool:
        """One DATA frame's worth of ``data``; ``last`` ends the stream."""
        return self._data(self.encode(data), last, stream_id)

    def _data(self, data: bytes, last: bool, stream_id: Optional[int]) -> bool:
        streamID = self.stream_id if stream_id is None else stream_id
        if streamID == self.stream_id and last:
            self.stream_ended = True
        return self._do(lambda: self._connection.sendData(streamID, data, last), len(data))

    def end_stream(self, stream_id: Optional[int] = None) -> bool:
        """End the stream (the request's own unless ``stream_id`` is given)."""
        streamID = self.stream_id if stream_id is None else stream_id
        if streamID == self.stream_id:
            self.stream_ended = True
        return self._do(lambda: self._connection.endStream(streamID))

    def write_push(
        self,
        promise_headers: Iterable[Header],
        push_stream_id: Optional[int] = None,
        status: Optional[int] = None,
        response_headers: Optional[Iterable[Header]] = None,
        response_data: Optional[Union[Writable, IO[bytes]]] = None,
    ) -> int:
        """
        A PUSH_PROMISE on the request's stream, and, given ``status`` and
        ``response_headers`` (and ``response_data``), the pushed response.

        :return: the pushed stream's id.
        """
        promise = [(self._text(name), self._text(value)) for name, value in promise_headers]
        streamID = self.stream_id
        self._sendHeld()
        self.content_written = True
        self._handedOver = True
        pushID: int = self._output.callOnReactor(
            lambda: self._connection.pushPromise(streamID, promise, push_stream_id)
        )
        hasData = response_data is not None
        if response_headers is not None:
            assert status is not None
            self.write_headers(response_headers, status, stream_id=pushID, last=not hasData)
        if response_data is not None:
            self.write_data(response_data, last=True, stream_id=pushID)
        return pushID

    def write_raw_header_frame(
        self,
        headers: Iterable[Header],
        stream_id: Optional[int] = None,
        end_stream: bool = False,
        end_headers: bool = False,
        frame_cls: Any = HeadersFrame,
    ) -> bool:
        """
        A HEADERS (or ``frame_cls``) frame built here and sent as is, past
        the stream's state machine (only the HPACK encoder is shared).
        """
        streamID = stream_id or self.stream_id
        fields = list(headers)
        flags = ({"END_STREAM"} if end_stream else set()) | ({"END_HEADERS"} if end_headers else set())
        if end_stream and streamID == self.stream_id:
            self.stream_ended = True
        connection = self._connection

        def send() -> None:
            frame = frame_cls(streamID, data=connection.encodeHeaders(fields))
            for flag in flags:
                frame.flags.add(flag)
            connection.sendRaw(streamID, frame.serialize(), end_stream)

        return self._do(send)

    def write_raw_data_frame(self, data: Writable, stream_id: Optional[int] = None, end_stream: bool = False) -> bool:
        """A DATA frame sent as is: no state machine, no flow control."""
        streamID = stream_id or self.stream_id
        frame = DataFrame(streamID, data=self.encode(data))
        if end_stream:
            frame.flags.add("END_STREAM")
            if streamID == self.stream_id:
                self.stream_ended = True
        serialized = frame.serialize()
        return self._do(lambda: self._connection.sendRaw(streamID, serialized, end_stream), len(serialized))

    def write_raw_continuation_frame(
        self, headers: Iterable[Header], stream_id: Optional[int] = None, end_headers: bool = False
    ) -> bool:
        """A CONTINUATION frame of HPACK-encoded ``headers``, sent as is."""
        return self.write_raw_header_frame(
            headers, stream_id=stream_id, end_headers=end_headers, frame_cls=ContinuationFrame
        )

    def get_max_payload_size(self, stream_id: Optional[int] = None) -> int:
        """The largest DATA payload the stream takes now (frame size or window, less 9)."""
        streamID = self.stream_id if stream_id is None else stream_id
        size: int = self._output.callOnReactor(lambda: self._connection.maxPayloadSize(streamID))
        return size

    # -- text ------------------------------------------------------------------

    def decode(self, data: Writable) -> str:
        """Convert bytes to text with ``response.encoding``."""
        if isinstance(data, bytes):
            return data.decode(self._response.encoding)
        if isinstance(data, str):
            return data
        raise ValueError(type(data))

    @staticmethod
    def _text(value: Any) -> str:
        return isomorphic_decode(value) if isinstance(value, bytes) else str(value)
