"""
Send the same HTTP/2 request to wptserve 4.0.3's own h2 server and to our
h2 port and say how the answers differ.

The client is the ``h2`` library's state machine over a blocking TLS socket
(ALPN ``h2``; the certificate is not checked: each server presents one made
in its own directory).  One request per connection; the request body, when
given, goes out as the DATA frames the case lists, one frame per piece, so
a ``handle_data`` handler sees them one by one.  The response is turned
into the :class:`~.harness.RawResponse` the HTTP/1.1 harness uses
(``HTTP/2 CODE`` as the status line; the header fields as received, less
the pseudo-headers; the DATA frames' bytes as the body), so that
:func:`~.harness.diff` applies the same rules: header values per
name, Date and Server left out, bodies byte for byte (or as the JSON error
structure), every other difference named by a documented
:class:`~.harness.KnownDifference`.

Before closing, the client says GOAWAY: wptserve 4.0.3's h2 connection loop
checks ``recv()`` against ``''`` (a str), so a connection closed without
GOAWAY leaves its thread spinning on ``b''`` for the rest of the session.

Everything here is synchronous and runs in the pytest thread: both servers
run in their own processes (see ``conftest.py``).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from .harness import DEFAULT_HOST, EXACT, TIMEOUT, ClientError, Comparison, KnownDifference, RawResponse, diff


def h2Request(
    address: tuple[str, int],
    path: str,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    bodyFrames: Sequence[bytes] | None = None,
    authority: bytes = DEFAULT_HOST,
) -> RawResponse:
    """
    Send one request on a fresh HTTP/2 connection and read its response.

    :param bodyFrames: The request body, one DATA frame per item (the last
        one carries END_STREAM); None for no body (END_STREAM on HEADERS).
    :param authority: The ``:authority`` pseudo-header (the Host).
    :raises ClientError: when the server resets the stream, closes the
        connection before the stream ends, or is silent for
        :data:`~.harness.TIMEOUT` seconds.

    Runs in the calling thread and blocks.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    record: list[bytes] = []
    with socket.create_connection(address, timeout=TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as sock:
            if sock.selected_alpn_protocol() != "h2":
                raise ClientError(f"ALPN chose {sock.selected_alpn_protocol()!r}, not h2")
            connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            connection.initiate_connection()
            streamID = connection.get_next_available_stream_id()
            requestHeaders = [
                (":method", method),
                (":scheme", "https"),
                (":authority", authority.decode("ascii")),
                (":path", path),
                *headers,
            ]
            connection.send_headers(streamID, requestHeaders, end_stream=not bodyFrames)
            for index, piece in enumerate(bodyFrames or ()):
                connection.send_data(streamID, piece, end_stream=index == len(bodyFrames or ()) - 1)
            sock.sendall(connection.data_to_send())
            try:
                status, responseHeaders, body = _readResponse(sock, connection, streamID, record)
            finally:
                try:
                    connection.close_connection()
                    sock.sendall(connection.data_to_send())
                except (OSError, h2.exceptions.ProtocolError):
                    pass
    return RawResponse(b"HTTP/2 " + status, responseHeaders, body, False, b"\n".join(record))


def _readResponse(
    sock: ssl.SSLSocket, connection: h2.connection.H2Connection, streamID: int, record: list[bytes]
) -> tuple[bytes, list[tuple[bytes, bytes]], bytes]:
    """Read events until ``streamID`` ends; its status, header fields and body."""
    status = b""
    fields: list[tuple[bytes, bytes]] = []
    body = b""
    while True:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            raise ClientError(f"timed out after {TIMEOUT}s; events so far: {record!r}") from None
        if not data:
            raise ClientError(f"connection closed before the stream ended; events: {record!r}")
        for event in connection.receive_data(data):
            record.append(repr(event).encode("utf-8", "replace"))
            if getattr(event, "stream_id", streamID) != streamID:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                for name, value in event.headers:
                    if name == b":status":
                        status = value
                    elif not name.startswith(b":"):
                        fields.append((name, value))
            elif isinstance(event, h2.events.DataReceived):
                body += event.data
                connection.acknowledge_received_data(event.flow_controlled_length, streamID)
            elif isinstance(event, h2.events.StreamReset):
                raise ClientError(f"stream reset (error {event.error_code!r}); events: {record!r}")
            elif isinstance(event, h2.events.ConnectionTerminated):
                raise ClientError(f"GOAWAY before the stream ended; events: {record!r}")
            if isinstance(event, h2.events.StreamEnded):
                sock.sendall(connection.data_to_send())
                return status, fields, body
        sock.sendall(connection.data_to_send())


@dataclass(frozen=True)
class H2Case:
    """
    One HTTP/2 request sent to both h2 servers.

    :ivar id: The pytest id.
    :ivar doc: The behaviour the case pins (shown when it fails).
    :ivar path: ``:path``.
    :ivar expectCode: The status wptserve answers with: a check that the
        handler file does on wptserve's h2 server what the case means.
    :ivar bodyFrames: The request body as DATA frames (see :func:`h2Request`).
    :ivar known: Differences we keep on purpose (documented).
    """

    id: str
    doc: str
    path: str
    expectCode: int
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    bodyFrames: tuple[bytes, ...] | None = None
    bodyMode: str = EXACT
    mustContain: tuple[str, ...] = ()
    known: tuple[KnownDifference, ...] = ()
    normalise: Callable[[bytes], bytes] | None = None


class H2Harness:
    """
    wptserve's h2 server and ours, each at ``(host, port)``.
    """

    def __init__(self, theirs: tuple[str, int], ours: tuple[str, int]) -> None:
        self.theirs = theirs
        self.ours = ours

    def send(self, address: tuple[str, int], case: H2Case) -> RawResponse:
        """Send ``case`` to the server at ``address``."""
        return h2Request(address, case.path, case.method, case.headers, case.bodyFrames)

    def compare(self, case: H2Case) -> Comparison:
        """
        Send ``case`` to both servers and compare the answers by the rules
        of :func:`~.harness.diff`.

        Runs in the pytest thread and blocks.
        """
        theirs = self.send(self.theirs, case)
        ours = self.send(self.ours, case)
        return diff(
            case.path,
            theirs,
            ours,
            knownDifferences=case.known,
            bodyMode=case.bodyMode,
            mustContain=case.mustContain,
            # The error message names the request's URL, and wptserve's
            # HTTP/2 URL is not ours (h2-request-url): both must name the path.
            url=case.path,
            normalise=case.normalise,
        )
