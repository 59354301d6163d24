"""
The structured calls of a writer whose head is a list of header fields
(a HEADERS frame) and whose body is DATA frames: what the HTTP/2 and HTTP/3
writers share.

``write_status``, ``write_header``, ``end_headers`` and ``write_content``
of the HTTP/1.1 writer keep their meaning on both: the status becomes the
``:status`` pseudo-header (there is no reason phrase), names go lower-case,
and the connection-specific fields both protocols forbid are dropped
instead of breaking the stream.  How the head and the body then reach the
wire is each writer's own (:meth:`FieldWriter._sendHead` and
:meth:`FieldWriter._sendBody`).

Every method runs in the handler's thread (or the reactor thread for
``async`` handlers), as the writers' own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import IO, Any, List, Optional, Tuple, Union

from twisted_pyhandlers._output import Action, ResponseOutput
from twisted_pyhandlers._response import SERVER_VERSION, Writable, WriterBase, WrittenResponse, requiredHeaders

#: Header fields HTTP/2 (RFC 9113 8.2.2) and HTTP/3 (RFC 9114 4.2) forbid:
#: the structured calls drop them.
CONNECTION_HEADERS = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"})

#: A header field as it goes into a HEADERS frame.
Field = Tuple[bytes, bytes]


def answerFields(code: int, body: bytes) -> List[Field]:
    """The head of the plain-text answer a writer gives instead of a handler's (504)."""
    return [
        (b":status", b"%d" % code),
        (b"server", SERVER_VERSION),
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", b"%d" % len(body)),
    ]


class FieldWriter(WriterBase, ABC):
    """
    The structured calls over a head of header fields; subclasses say how
    the head and each piece of the body are handed over.
    """

    file_chunk_size = 32 * 1024
    default_status = 200

    def __init__(self, output: ResponseOutput, response: WrittenResponse) -> None:
        """Reactor thread (the response is made there)."""
        super().__init__(output, response)
        self._status: Optional[int] = None
        self._headers: List[Field] = []
        # The output counts only DATA payloads, so the body starts at 0 (the
        # access log's size is body bytes only, as on HTTP/1.1).
        output.bodyStart = 0

    @property
    def status_written(self) -> bool:
        """Whether a status was given (it goes out with the headers)."""
        return self._status is not None

    @property
    def status_code(self) -> Optional[int]:
        """The status of the response (for the access log), None if none was given."""
        return self._status

    def _handOver(self, action: Action) -> bool:
        """Hand ``action`` over: into the open batch, else to the output at once."""
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

    def _wholeHead(
        self, status: Tuple[int, Optional[Writable]], headers: Any, content: Writable
    ) -> Optional[Tuple[List[Field], bytes]]:
        """
        The fields of the HEADERS frame and the body of a whole response
        whose body is known in full: the same fields, in the same order, as
        :meth:`write_status`, :meth:`write_header` for each of ``headers``
        and :meth:`end_headers` would make (names lower-case, the
        connection-specific ones dropped, the required headers last), built
        in one pass, and the writer's state as they would leave it.
        Worker thread.

        :return: ``(fields, body)``; None, with nothing recorded, when a
            header name or value is neither text, bytes nor (a value) an
            int: the step-by-step path then writes what it can and raises
            as before.
        """
        encode = self.encode
        response = self._response
        code = int(status[0])
        seen = set()
        fields: List[Field] = [(b":status", b"%d" % code)]
        try:
            for name, value in headers:
                lower = (name if name.__class__ is bytes else encode(name)).lower()
                seen.add(lower)
                if value.__class__ is bytes:
                    valueBytes = value
                elif isinstance(value, int):
                    valueBytes = b"%d" % value
                else:
                    valueBytes = encode(value)
                if lower not in CONNECTION_HEADERS:
                    fields.append((lower, valueBytes))
            body = content if content.__class__ is bytes else encode(content)
        except ValueError:
            return None
        if response.add_required_headers:
            for lower, _, value in requiredHeaders(seen, body, response.encoding):
                seen.add(lower)
                fields.append((lower, value))
        self._status = code
        self._headers = fields[1:]
        self._headers_seen = seen
        self._headers_complete = True
        return fields, body

    def write_status(self, code: int, message: Optional[Writable] = None) -> bool:
        """The status (no reason phrase in a HEADERS frame: ``message`` is dropped)."""
        self._status = int(code)
        return not self._output.lost

    def write_header(self, name: Writable, value: Union[Writable, int]) -> bool:
        """One header field for the HEADERS frame (names go lower-case)."""
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
        self._headers_complete = True
        return self._sendHead([(b":status", b"%d" % (self._status or self.default_status,))] + self._headers)

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
            return self._sendBody(self.encode(data))
        try:
            while True:
                chunk = data.read(self.file_chunk_size)
                if not chunk:
                    return True
                if not self._sendBody(chunk):
                    return False
        finally:
            data.close()

    @abstractmethod
    def _sendHead(self, fields: List[Field]) -> bool:
        """Hand over the HEADERS frame of ``fields``; False once the stream is gone."""

    @abstractmethod
    def _sendBody(self, data: bytes) -> bool:
        """Hand over ``data`` as DATA, the stream left open; False once the stream is gone."""
