"""
WebTransport over HTTP/3 on a real ``twistd pyhandlers`` process: its
``webtransport-h3`` port (UDP on 127.0.0.1, the made certificate) runs the
handler files of ``tests/wt_root/webtransport/handlers`` (written against
wpt's handler API, after wpt's own handlers), and aioquic's own client
speaks QUIC, HTTP/3 and WebTransport to it over a real UDP socket.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, TypeVar

import pytest
from aioquic.buffer import encode_uint_var
from aioquic.quic.events import StopSendingReceived
from test_tls import Server
from wtclient import WebTransportClientProtocol, webTransportClient

HERE = Path(__file__).resolve().parent
T = TypeVar("T")


class WebTransportServer:
    """The running server: its ports, its CA, its log."""

    def __init__(self, server: Server, root: Path) -> None:
        self.server = server
        self.root = root
        self.port = server.ports("webtransport-h3")[0]
        self.httpPort = server.ports("http")[0]
        self.caFile = str(server.tmp / "tls" / "ca.pem")

    def run(self, scenario: Callable[[WebTransportClientProtocol], Awaitable[T]]) -> T:
        """Run ``scenario`` with a client connected to the server (verifying the made certificate)."""

        async def connected() -> T:
            async with webTransportClient(self.port, self.caFile) as client:
                return await scenario(client)

        return asyncio.run(connected())

    @property
    def authority(self) -> str:
        return f"localhost:{self.port}"

    def stashed(self, token: str, stream: str) -> Any:
        """What the WebTransport handlers stashed under ``token`` and ``stream``, read by an HTTP handler of the same server."""
        url = f"http://127.0.0.1:{self.httpPort}/stash.py?token={token}&stream={stream}"
        with urllib.request.urlopen(url, timeout=30) as answer:
            return json.load(answer)


@pytest.fixture(scope="module")
def wt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebTransportServer]:
    """One server with a webtransport-h3 port and an http port over a copy of ``tests/wt_root``."""
    tmp = tmp_path_factory.mktemp("webtransport")
    root = tmp / "root"
    shutil.copytree(HERE / "wt_root", root)
    server = Server(
        tmp, "--root", str(root), "--tls-dir", "tls",
        "--listen", "webtransport-h3=udp:0:interface=127.0.0.1", "--listen", "http=tcp:0:interface=127.0.0.1",
    )
    server.start(origins=2)
    yield WebTransportServer(server, root)
    server.stop()


def closeCapsule(payload: bytes) -> bytes:
    """CLOSE_WEBTRANSPORT_SESSION (0x2843) with ``payload``, as a capsule."""
    return encode_uint_var(0x2843) + encode_uint_var(len(payload)) + payload


def status(headers: list) -> bytes:
    return dict(headers)[b":status"]


async def echoedDatagram(client: WebTransportClientProtocol, sessionId: int, data: bytes) -> bytes:
    """Send ``data`` as a datagram (again every 100 ms: datagrams may be lost) until one comes back."""
    for _ in range(100):
        client.sendDatagram(sessionId, data)
        try:
            await client.until(lambda: bool(client.datagrams), timeout=0.1)
        except asyncio.TimeoutError:
            continue
        return client.datagrams[0]
    raise AssertionError("no datagram came back")


def test_echoBidirectionalUnidirectionalAndDatagram(wt: WebTransportServer) -> None:
    """
    Through the echo handler: the CONNECT is answered 200 (with wpt's
    draft header); bytes sent on a bidirectional stream come back on it with
    its end; bytes on a unidirectional stream come back on a unidirectional
    stream the server opened; a datagram comes back; and the server opened
    a bidirectional stream of its own when the session was established.
    """

    async def scenario(client: WebTransportClientProtocol) -> None:
        sessionId, headers = await client.openSession(wt.authority, "/webtransport/handlers/echo.py")
        assert status(headers) == b"200"
        assert (b"sec-webtransport-http3-draft", b"draft02") in headers
        bidi = client.openStream(sessionId)
        client.send(bidi, b"hello ")
        client.send(bidi, b"world", end=True)
        assert await client.endOf(bidi) == b"hello world"
        uni = client.openStream(sessionId, unidirectional=True)
        client.send(uni, b"one way", end=True)
        await client.until(lambda: any(s % 4 == 3 and s in client.ended for s in client.data))
        back = [s for s in client.data if s % 4 == 3]
        assert [client.data[s] for s in back] == [b"one way"]
        assert await echoedDatagram(client, sessionId, b"datagram") == b"datagram"

    wt.run(scenario)


def test_serverInitiatedStreamIsReset(wt: WebTransportServer) -> None:
    """
    A handler's ``create_unidirectional_stream``, ``send_stream_data`` and
    ``reset_stream`` (wpt's abort-server-initiated-stream): the client sees
    a stream opened by the server, and its RESET_STREAM with the handler's code.
    """

    async def scenario(client: WebTransportClientProtocol) -> None:
        sessionId, headers = await client.openSession(wt.authority, "/webtransport/handlers/abort-server-initiated-stream.py")
        assert status(headers) == b"200"
        await client.until(lambda: bool(client.resets))
        [(streamId, code)] = client.resets.items()
        assert streamId % 4 == 3  # server-initiated, unidirectional
        assert code == 0x52E4A40FA8DB

    wt.run(scenario)


@pytest.mark.parametrize("query, closed", [("?code=9&reason=done", (9, b"done")), ("", None)])
def test_serverClosesSession(wt: WebTransportServer, query: str, closed: Any) -> None:
    """
    ``session.close((code, reason))`` sends CLOSE_WEBTRANSPORT_SESSION with
    that code and reason and ends the CONNECT stream; ``session.close(None)``
    ends the stream with no capsule.
    """

    async def scenario(client: WebTransportClientProtocol) -> None:
        sessionId, headers = await client.openSession(wt.authority, "/webtransport/handlers/server-close.py" + query)
        assert status(headers) == b"200"
        data = await client.endOf(sessionId)
        if closed is None:
            assert data == b""
        else:
            code, reason = closed
            payload = code.to_bytes(4, "big") + reason
            assert data == closeCapsule(payload)

    wt.run(scenario)


def test_clientResetAndCloseReachTheHandlerAndTheStash(wt: WebTransportServer) -> None:
    """
    The client resets a stream, then closes the session with a code and a
    reason: the handler's ``stream_reset`` sees the stream's code and its
    ``session_closed`` the close (not abrupt); what it put in
    ``session.stash`` is read back by an HTTP handler of the same server
    (one stash for both).
    """
    token, streamKey = str(uuid.uuid4()), str(uuid.uuid4())

    async def scenario(client: WebTransportClientProtocol) -> None:
        sessionId, headers = await client.openSession(wt.authority, f"/webtransport/handlers/client-close.py?token={token}&stream={streamKey}")
        assert status(headers) == b"200"
        stream = client.openStream(sessionId)
        client.send(stream, b"x")
        client.reset(stream, 42)
        # The close goes out once the server has the reset (acknowledged
        # with the PING after it): in one packet, aioquic would put the
        # CONNECT stream's close first.
        await client.ping()
        client.closeSession(sessionId, 7, b"bye")
        await client.endOf(sessionId)

    wt.run(scenario)
    assert wt.stashed(token, streamKey) == {
        "stream": {"source": "reset", "code": 42},
        "session": {"abruptly": False, "close_info": {"code": 7, "reason": "bye"}},
    }


def test_refusals(wt: WebTransportServer) -> None:
    """
    As wpt's server: a CONNECT without Origin is 403, a request that is not
    a WebTransport CONNECT is 404, a missing handler is 404, and so is a
    path that leaves the root; a handler's ``connect_received`` may answer
    with a status of its own (no session then).
    """

    async def scenario(client: WebTransportClientProtocol) -> None:
        _, headers = await client.openSession(wt.authority, "/webtransport/handlers/echo.py", origin=None)
        assert status(headers) == b"403"
        get = client.request([(b":method", b"GET"), (b":scheme", b"https"), (b":authority", wt.authority.encode()),
                              (b":path", b"/stash.py"), (b"origin", b"https://web-platform.test")], end=True)
        assert status(await client.response(get)) == b"404"
        for path in ("/webtransport/handlers/missing.py", "/webtransport/handlers/../../../etc/passwd", "/%2e%2e/x.py"):
            _, headers = await client.openSession(wt.authority, path)
            assert status(headers) == b"404", path
        _, headers = await client.openSession(wt.authority, "/webtransport/handlers/custom-response.py?status=429")
        assert status(headers) == b"429"

    wt.run(scenario)


def test_raisingHandlerClosesItsSessionAndTheServerGoesOn(wt: WebTransportServer) -> None:
    """
    A handler that raises in ``stream_data_received``: its session is
    closed with code 500 and a reason naming the callback and the error, the
    traceback is in the log, and the next session on the same server works.
    """

    async def scenario(client: WebTransportClientProtocol) -> None:
        sessionId, _ = await client.openSession(wt.authority, "/webtransport/handlers/raise.py")
        stream = client.openStream(sessionId)
        client.send(stream, b"way", end=True)
        data = await client.endOf(sessionId)
        reason = b"stream_data_received raised ZeroDivisionError: no way"
        payload = (500).to_bytes(4, "big") + reason
        assert data == closeCapsule(payload)
        sessionId, headers = await client.openSession(wt.authority, "/webtransport/handlers/echo.py")
        assert status(headers) == b"200"
        assert await echoedDatagram(client, sessionId, b"still here") == b"still here"

    wt.run(scenario)
    log = wt.server.text()
    assert "Traceback" in log and "ZeroDivisionError: no way" in log, log[-3000:]


def test_sleepingHandlerStallsOnlyItsSession(wt: WebTransportServer, tmp_path: Path) -> None:
    """
    A handler blocked in ``stream_data_received`` (waiting for a file)
    holds its own session only: another session echoes in the meantime,
    and the blocked one answers once the file is there.
    """
    flag = tmp_path / "release"

    async def scenario(client: WebTransportClientProtocol) -> None:
        blockedSession, _ = await client.openSession(wt.authority, "/webtransport/handlers/wait-for-file.py")
        blocked = client.openStream(blockedSession)
        client.send(blocked, str(flag).encode(), end=True)
        async with webTransportClient(wt.port, wt.caFile) as other:
            sessionId, _ = await other.openSession(wt.authority, "/webtransport/handlers/echo.py")
            stream = other.openStream(sessionId)
            other.send(stream, b"meanwhile", end=True)
            assert await other.endOf(stream) == b"meanwhile"
        assert blocked not in client.ended
        flag.write_text("")
        assert await client.endOf(blocked) == str(flag).encode()

    wt.run(scenario)


def test_stopStream(wt: WebTransportServer) -> None:
    """``session.stop_stream(stream_id, code)`` reaches the client as STOP_SENDING with the code."""

    async def scenario(client: WebTransportClientProtocol) -> None:
        stops: list = []
        original = client.quic_event_received

        def watch(event: Any) -> None:
            if isinstance(event, StopSendingReceived):
                stops.append((event.stream_id, event.error_code))
            original(event)

        client.quic_event_received = watch  # type: ignore[method-assign]
        sessionId, _ = await client.openSession(wt.authority, "/webtransport/handlers/stop-sending.py")
        stream = client.openStream(sessionId)
        client.send(stream, b"stop me")
        await client.until(lambda: bool(stops))
        assert stops == [(stream, 7)]

    wt.run(scenario)


def test_allPortsServesTheConfigsPortAndTemplatesNameIt(tmp_path: Path) -> None:
    """
    ``--all-ports`` listens on the config's ``webtransport-h3`` port (UDP,
    "auto" here), and ``{{ports[webtransport-h3][0]}}`` in a ``.sub.``
    file (as wpt's webtransport-test-helpers.sub.js has it) is the port
    really listened on, where a session echoes.
    """
    root = tmp_path / "root"
    shutil.copytree(HERE / "wt_root", root)
    (root / "helpers.sub.js").write_text("const PORT = {{ports[webtransport-h3][0]}};\n")
    (tmp_path / "config.json").write_text(json.dumps({"ports": {"http": ["auto"], "webtransport-h3": ["auto"]}}))
    server = Server(tmp_path, "--root", str(root), "--tls-dir", "tls", "--config", str(tmp_path / "config.json"), "--all-ports")
    server.start(origins=2)
    try:
        wt = WebTransportServer(server, root)
        with urllib.request.urlopen(f"http://127.0.0.1:{wt.httpPort}/helpers.sub.js", timeout=10) as answer:
            assert answer.read() == f"const PORT = {wt.port};\n".encode()

        async def scenario(client: WebTransportClientProtocol) -> None:
            sessionId, headers = await client.openSession(wt.authority, "/webtransport/handlers/echo.py")
            assert status(headers) == b"200"
            assert await echoedDatagram(client, sessionId, b"config") == b"config"

        wt.run(scenario)
    finally:
        server.stop()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--listen", "webtransport-h3=udp:port"], "udp: needs a port number"),
        (["--listen", "webtransport-h3=udp:0:backlog=5"], "udp: takes only interface="),
        (["--listen", "webtransport-h3=tcp:0"], "webtransport-h3 listens on UDP"),
        (["--listen", "webtransport-h3=udp:0", "--workers", "2"], "keeps its QUIC connections in one process"),
    ],
)
def test_badWebTransportListeners(tmp_path: Path, arguments: list, message: str) -> None:
    """A webtransport-h3 listener that cannot be served is one line naming it, before anything listens."""
    from twisted_pyhandlers.tap import OptionError, Options

    with pytest.raises(OptionError, match=message):
        Options().parseOptions(["--root", str(tmp_path), *arguments])


def test_brokenHandlerFilesAnswer500AndLinksOutOfTheRootAre404(wt: WebTransportServer, tmp_path: Path) -> None:
    """
    A handler file that does not compile, and one whose
    ``connect_received`` raises, answer the CONNECT 500 with the traceback
    in the log; a symlink out of the root and a directory are 404 (the file
    behind the link is never run).
    """
    (wt.root / "webtransport" / "handlers" / "syntax-error.py").write_text("def session_established(session)\n    pass\n")
    outside = tmp_path / "outside.py"
    outside.write_text("raise SystemExit('an outside file ran')\n")
    link = wt.root / "webtransport" / "handlers" / "link-out.py"
    if not link.is_symlink():
        link.symlink_to(outside)

    async def scenario(client: WebTransportClientProtocol) -> None:
        for path in ("/webtransport/handlers/syntax-error.py", "/webtransport/handlers/raise-on-connect.py?x=1"):
            _, headers = await client.openSession(wt.authority, path)
            assert status(headers) == b"500", path
        for path in ("/webtransport/handlers/link-out.py", "/webtransport/handlers", "/webtransport/handlers/"):
            _, headers = await client.openSession(wt.authority, path)
            assert status(headers) == b"404", path

    wt.run(scenario)
    log = wt.server.text()
    assert "SyntaxError" in log and "RuntimeError: refusing /webtransport/handlers/raise-on-connect.py?x=1" in log
    assert "an outside file ran" not in log


def test_malformedCapsuleClosesThatConnectionOnly(wt: WebTransportServer) -> None:
    """
    A CLOSE_WEBTRANSPORT_SESSION capsule too short to hold its code is a
    protocol error: that client's connection is closed with
    H3_GENERAL_PROTOCOL_ERROR, and the next client's session echoes.
    """

    async def scenario(client: WebTransportClientProtocol) -> None:
        sessionId, _ = await client.openSession(wt.authority, "/webtransport/handlers/echo.py")
        client.http.send_data(sessionId, encode_uint_var(0x2843) + encode_uint_var(2) + b"\x00\x01", end_stream=False)
        client.transmit()
        await asyncio.wait_for(client.wait_closed(), 20)
        closing = client._quic._close_event
        assert closing is not None and closing.error_code == 0x101  # H3_GENERAL_PROTOCOL_ERROR
        async with webTransportClient(wt.port, wt.caFile) as other:
            sessionId, headers = await other.openSession(wt.authority, "/webtransport/handlers/echo.py")
            assert status(headers) == b"200"
            assert await echoedDatagram(other, sessionId, b"next") == b"next"

    wt.run(scenario)


def test_eventsBeforeTheCloseReachABusyHandler(wt: WebTransportServer, tmp_path: Path) -> None:
    """
    While the handler is busy with a stream's bytes, the client ends the
    stream and closes the session: once the handler is free it is still
    called, in order, for the stream's end and then ``session_closed``.
    """
    token, streamKey, flag = str(uuid.uuid4()), str(uuid.uuid4()), tmp_path / "free"

    async def scenario(client: WebTransportClientProtocol) -> None:
        path = f"/webtransport/handlers/slow-client-close.py?token={token}&stream={streamKey}&flag={flag}"
        sessionId, headers = await client.openSession(wt.authority, path)
        assert status(headers) == b"200"
        stream = client.openStream(sessionId)
        client.send(stream, b"busy")
        await client.ping()
        client.send(stream, b"", end=True)
        await client.ping()
        client.closeSession(sessionId, 3, b"later")
        await client.endOf(sessionId)
        flag.write_text("")

    wt.run(scenario)
    assert wt.stashed(token, streamKey) == {
        "stream": {"source": "FIN"},
        "session": {"abruptly": False, "close_info": {"code": 3, "reason": "later"}},
    }


def test_twoSessionsOnOneConnectionAreKeptApart(wt: WebTransportServer) -> None:
    """
    Two sessions on one QUIC connection each have their handler: a
    session's stream and datagram are echoed in that session only, and
    closing one (the server's close) leaves the other working.
    """

    async def scenario(client: WebTransportClientProtocol) -> None:
        echo, _ = await client.openSession(wt.authority, "/webtransport/handlers/echo.py")
        closing, _ = await client.openSession(wt.authority, "/webtransport/handlers/server-close.py?code=1&reason=one")
        assert await client.endOf(closing) == closeCapsule((1).to_bytes(4, "big") + b"one")
        stream = client.openStream(echo)
        client.send(stream, b"still", end=True)
        assert await client.endOf(stream) == b"still"
        assert await echoedDatagram(client, echo, b"mine") == b"mine"
        assert {sessionId for sessionId, _ in client.sessionDatagrams} == {echo}

    wt.run(scenario)
