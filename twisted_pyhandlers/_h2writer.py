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
would corrupt the connection): it is an error in the log and a reset of the
stream.
"""

from __future__ import annotations

from io import BytesIO
from typing import IO, Any, Callable, Iterable, List, Optional, Tuple, Union

import h2.exceptions
from hyperframe.frame import ContinuationFrame, DataFrame, HeadersFrame
from twisted.logger import Logger

from twisted_pyhandlers._encoding import isomorphic_decode
from twisted_pyhandlers._output import Action, ResponseOutput
from twisted_pyhandlers._response import SERVER_VERSION, Writable, WriterBase, WrittenResponse, requiredHeaders

Header = Tuple[Any, Any]

#: The pseudo-header names wptserve's ``write_headers`` prefixes with ":".
H2_PSEUDO_HEADERS = frozenset({"method", "scheme", "host", "path", "authority", "status"})

#: Header fields HTTP/2 forbids (RFC 9113 8.2.2): the structured calls drop
#: them instead of resetting the stream.
CONNECTION_HEADERS = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"})


class H2ResponseWriter(WriterBase):
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
    file_chunk_size = 32 * 1024
    default_status = 200

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
        self._status: Optional[int] = None
        self._headers: List[Tuple[bytes, bytes]] = []
        # The output counts only DATA payloads here, so the body starts at 0
        # (the access log's size is body bytes only, as on HTTP/1.1).
        output.bodyStart = 0

    # -- what the server reads after main returns -----------------------------

    @property
    def status_written(self) -> bool:
        """Whether a status was given (it goes out with the headers)."""
        return self._status is not None

    @property
    def status_code(self) -> Optional[int]:
        """The status of the stream's response (for the access log), None if none was given."""
        return self._status

    # -- the reactor hand-over --------------------------------------------------

    def _do(self, work: Callable[[], object], size: int = 0) -> bool:
        """Run ``work`` on the reactor in order; a failure there resets the stream."""
        self.content_written = True
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

        action = Action(run, size)
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
        """
        A whole response in one piece: not on HTTP/2, whose HEADERS frame is
        made by the structured calls (in one batch, which hands the frames
        over as one).  Returns None, having written nothing.
        """
        return None

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
            headers = [
                (b":status", b"%d" % code),
                (b"server", SERVER_VERSION),
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"%d" % len(body)),
            ]
            connection.sendHeaders(streamID, headers, False)
            connection.sendData(streamID, body, True)

        self._output.answerInstead(Action(answer), 0, code, runTime)

    # -- the structured calls (as the HTTP/1.1 writer) ----------------------------

    def write_status(self, code: int, message: Optional[Writable] = None) -> bool:
        """The status (HTTP/2 has no reason phrase: ``message`` is dropped)."""
        self._status = int(code)
        return not self._output.lost

    def write_header(self, name: Writable, value: Union[Writable, int]) -> bool:
        """One header field for the HEADERS frame (names go lower-case, as HTTP/2 wants)."""
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
        streamID = self.stream_id
        return self._do(lambda: self._connection.sendHeaders(streamID, headers, False))

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
            return self._data(self.encode(data), False, None)
        try:
            while True:
                chunk = data.read(self.file_chunk_size)
                if not chunk:
                    return True
                if not self._data(chunk, False, None):
                    return False
        finally:
            data.close()

    def write(self, data: Writable) -> bool:
        """
        Raw bytes cannot go on an HTTP/2 stream: log the error and reset the
        stream (the connection and its other streams go on).
        """
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
        self.content_written = True
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
