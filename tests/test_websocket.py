"""
WebSocket handlers (``*_wsh.py``) on real ws and wss ports, driven by a
real client (the ``websockets`` package) and raw sockets.

The in-process tests listen on loopback with the very factory ``twistd
pyhandlers`` serves the ws scheme with (``SiteMaker``), beside an http
port of the same ``HandlerDirectory``, so both share its stash; the
client runs in a thread (``deferToThread``) so the reactor serving it
keeps running.  The ``twistd`` tests run the plugin in a subprocess, as
the TLS tests do.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple, TypeVar

import pytest
import pytest_twisted
from serving import HandlerRoot
from test_tls import REPO, Server
from twisted.internet import reactor, threads
from twisted.internet.interfaces import IListeningPort
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from twisted_pyhandlers import HandlerDirectory
from twisted_pyhandlers._schemes import SiteMaker
from twisted_pyhandlers.stash import MemoryStashStore, Stash, StashError

T = TypeVar("T")

ECHO = '''
from mod_pywebsocket import common


def web_socket_do_extra_handshake(request):
    request.ws_extension_processors = []
    if request.ws_requested_protocols and "echo" in request.ws_requested_protocols:
        request.ws_protocol = "echo"


def web_socket_transfer_data(request):
    while True:
        message = request.ws_stream.receive_message()
        if message is None:
            return
        request.ws_stream.send_message(message, binary=not isinstance(message, str))


def web_socket_passive_closing_handshake(request):
    code, reason = request.ws_close_code, request.ws_close_reason
    if code == common.STATUS_NO_STATUS_RECEIVED:
        code = None
    return code, reason
'''


class WebSocketServer:
    """An http port and a ws port over one ``HandlerDirectory`` (one stash)."""

    def __init__(self, root: HandlerRoot, ports: List[IListeningPort], store: MemoryStashStore) -> None:
        self.root = root
        self.ports = ports
        self.store = store

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.ports[0].getHost().port}"  # type: ignore[attr-defined]

    @property
    def wsPort(self) -> int:
        return self.ports[0].getHost().port  # type: ignore[attr-defined, no-any-return]

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.ports[1].getHost().port}"  # type: ignore[attr-defined]


@pytest.fixture
def wsRoot(handlerRoot: HandlerRoot) -> HandlerRoot:
    """A document root with wpt's handler directory and the echo handler in it."""
    handlerRoot.write("websockets/handlers/echo_wsh.py", ECHO)
    return handlerRoot


@pytest.fixture
def startServer() -> Iterator[Callable[[HandlerRoot], WebSocketServer]]:
    """``startServer(root)``: listen (after the handler files are written); closed after the test."""
    servers: List[WebSocketServer] = []

    def start(root: HandlerRoot) -> WebSocketServer:
        store = MemoryStashStore()
        maker = SiteMaker(HandlerDirectory(str(root.path), stash=store))
        ports = [
            reactor.listenTCP(0, maker.siteForScheme(scheme), interface="127.0.0.1")  # type: ignore[attr-defined]
            for scheme in ("ws", "http")
        ]
        servers.append(WebSocketServer(root, ports, store))
        return servers[-1]

    yield start
    for server in servers:
        for port in server.ports:
            pytest_twisted.blockon(port.stopListening())


def inThread(function: Callable[[], T]) -> Any:
    """Run blocking client code off the reactor thread; a Deferred of its result."""
    return threads.deferToThread(function)


def client(url: str, **kwargs: Any) -> Any:
    """The ``websockets`` synchronous client, without proxies or compression unless asked."""
    kwargs.setdefault("compression", None)
    return connect(url, proxy=None, open_timeout=10, close_timeout=10, **kwargs)


@pytest_twisted.ensureDeferred
async def test_echoTextAndBinary(wsRoot: HandlerRoot, startServer: Callable[[HandlerRoot], WebSocketServer]) -> None:
    """
    wpt's echo pattern: ``/echo`` runs ``websockets/handlers/echo_wsh.py``;
    a text message comes back as text, a binary one as binary, non-ASCII
    text and large messages (several times the back-pressure limits of
    both directions) intact.
    """
    server = startServer(wsRoot)
    big = os.urandom(3 * 1024 * 1024)

    def talk() -> List[Any]:
        with client(server.ws + "/echo", max_size=None) as ws:
            ws.send("hello")
            ws.send(b"\x00\xff\x10")
            ws.send("天気の良い日")
            ws.send(big)
            return [ws.recv(), ws.recv(), ws.recv(), ws.recv()]

    answers = await inThread(talk)
    assert answers[:3] == ["hello", b"\x00\xff\x10", "天気の良い日"]
    assert answers[3] == big


@pytest_twisted.ensureDeferred
async def test_closeCodesAndReasons(wsRoot: HandlerRoot, startServer: Callable[[HandlerRoot], WebSocketServer]) -> None:
    """
    A client's close code and reason reach ``web_socket_passive_closing_handshake``
    (echo returns them); a handler's ``close_connection(code, reason)``
    reaches the client; the server then closes the TCP connection.
    """
    wsRoot.write(
        "websockets/handlers/closer_wsh.py",
        """
        def web_socket_do_extra_handshake(request):
            pass

        def web_socket_transfer_data(request):
            request.ws_stream.send_message("bye soon", binary=False)
            request.ws_stream.close_connection(4001, "done here")
        """,
    )
    server = startServer(wsRoot)

    def clientCloses() -> Any:
        with client(server.ws + "/echo") as ws:
            ws.close(code=4000, reason="because")
            return ws.protocol.close_rcvd

    def serverCloses() -> Any:
        with client(server.ws + "/closer") as ws:
            first = ws.recv()
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv()
            return first, closed.value.rcvd

    received = await inThread(clientCloses)
    assert (received.code, received.reason) == (4000, "because")
    first, rcvd = await inThread(serverCloses)
    assert first == "bye soon"
    assert (rcvd.code, rcvd.reason) == (4001, "done here")


@pytest_twisted.ensureDeferred
async def test_extraHandshakeRejects(wsRoot: HandlerRoot, startServer: Callable[[HandlerRoot], WebSocketServer]) -> None:
    """
    A handler whose ``web_socket_do_extra_handshake`` raises refuses the
    connection with pywebsocket's 403; a path with no handler, or whose
    file did not load, is a 404; the port goes on serving.
    """
    wsRoot.write(
        "websockets/handlers/origin_wsh.py",
        """
        def web_socket_do_extra_handshake(request):
            if request.ws_origin != "https://allowed.test":
                raise ValueError("origin refused")

        def web_socket_transfer_data(request):
            request.ws_stream.send_message("welcome " + request.ws_origin, binary=False)
        """,
    )
    wsRoot.write("websockets/handlers/unloadable_wsh.py", "def web_socket_do_extra_handshake(request):\n    pass\n")
    server = startServer(wsRoot)

    def status(path: str, origin: str = "https://other.test") -> bytes:
        # pywebsocket's error answers are HTTP/1.0, which the websockets
        # client does not read: a raw socket does.
        request = upgrade(path).replace(b"\r\n\r\n", f"\r\nOrigin: {origin}\r\n\r\n".encode())
        return rawExchange(server.wsPort, request).split(b"\r\n", 1)[0]

    def welcome() -> str:
        with client(server.ws + "/origin", origin="https://allowed.test") as ws:  # type: ignore[arg-type]
            return str(ws.recv())

    assert await inThread(lambda: status("/origin")) == b"HTTP/1.0 403 Forbidden"
    assert await inThread(lambda: status("/nothing")) == b"HTTP/1.0 404 File not found"
    assert await inThread(lambda: status("/unloadable")) == b"HTTP/1.0 404 File not found"
    assert await inThread(welcome) == "welcome https://allowed.test"


@pytest_twisted.ensureDeferred
async def test_subprotocolSelection(wsRoot: HandlerRoot, startServer: Callable[[HandlerRoot], WebSocketServer]) -> None:
    """
    The handler picks from ``request.ws_requested_protocols`` and the client
    gets it; no protocol asked, none given; asked but none picked is
    pywebsocket's 400.
    """
    wsRoot.write(
        "websockets/handlers/picky_wsh.py",
        """
        def web_socket_do_extra_handshake(request):
            pass

        def web_socket_transfer_data(request):
            pass
        """,
    )
    server = startServer(wsRoot)

    def chosen(path: str, offered: Optional[List[str]]) -> Optional[str]:
        with client(server.ws + path, subprotocols=offered) as ws:
            return ws.subprotocol  # type: ignore[no-any-return]

    def refused() -> bytes:
        request = upgrade("/picky").replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Protocol: chat\r\n\r\n")
        return rawExchange(server.wsPort, request).split(b"\r\n", 1)[0]

    assert await inThread(lambda: chosen("/echo", ["chat", "echo"])) == "echo"
    assert await inThread(lambda: chosen("/echo", None)) is None
    assert await inThread(refused) == b"HTTP/1.0 400 Bad Request"


def rawExchange(port: int, data: bytes, context: Optional[ssl.SSLContext] = None) -> bytes:
    """Send ``data`` on a raw (TLS) socket, shut down the sending side, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as raw:
        sock = raw if context is None else context.wrap_socket(raw, server_hostname="localhost")
        try:
            sock.sendall(data)
            if context is None:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered and closed before reading it all
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def upgrade(path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def frame(opcode: int, payload: bytes) -> bytes:
    """One masked, final client frame (payloads under 126 bytes)."""
    mask = b"\x01\x02\x03\x04"
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def closeFrame(code: int, reason: bytes = b"") -> bytes:
    return frame(8, code.to_bytes(2, "big") + reason)


RAW = b"HTTP/1.1 101 Switching Protocols:\r\nUpgrade: WebSocket\r\nX-Broken: yes\r\n\r\n\x88\x02\x03\xe8\x83\x03bad"


@pytest_twisted.ensureDeferred
async def test_rawBytesOnTheWire(wsRoot: HandlerRoot, startServer: Callable[[HandlerRoot], WebSocketServer]) -> None:
    """
    What a handler writes to ``request.connection`` (a broken handshake, a
    frame with a reserved opcode) is exactly what the client receives, with
    nothing of pywebsocket's after ``AbortedByUserException``; after a normal
    handshake a raw frame follows the 101 byte for byte.  A ``str`` is
    refused as a socket refuses it (``TypeError``, so pywebsocket's 403).
    """
    wsRoot.write(
        "websockets/handlers/broken_wsh.py",
        f"""
        from mod_pywebsocket.handshake import AbortedByUserException

        def web_socket_do_extra_handshake(request):
            for byte in {RAW!r}:
                request.connection.write(bytes([byte]))
            raise AbortedByUserException("on purpose")

        def web_socket_transfer_data(request):
            pass
        """,
    )
    wsRoot.write(
        "websockets/handlers/frame_wsh.py",
        """
        from mod_pywebsocket.handshake import AbortedByUserException

        def web_socket_do_extra_handshake(request):
            pass

        def web_socket_transfer_data(request):
            request.connection.write(bytearray(b"\\x81\\x7e\\x00\\x02hi"))
            raise AbortedByUserException("no closing handshake")
        """,
    )
    wsRoot.write(
        "websockets/handlers/text_wsh.py",
        """
        def web_socket_do_extra_handshake(request):
            request.connection.write("HTTP/1.1 101 Switching Protocols\\r\\n\\r\\n")

        def web_socket_transfer_data(request):
            pass
        """,
    )
    server = startServer(wsRoot)
    assert await inThread(lambda: rawExchange(server.wsPort, upgrade("/broken"))) == RAW
    framed = await inThread(lambda: rawExchange(server.wsPort, upgrade("/frame")))
    head, _, rest = framed.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert rest == b"\x81\x7e\x00\x02hi"
    refused = await inThread(lambda: rawExchange(server.wsPort, upgrade("/text")))
    assert refused.startswith(b"HTTP/1.0 403 Forbidden\r\n")


STASH_HTTP = """
import json

def main(request, response):
    stash = request.server.stash
    key = request.GET.first(b"id")
    if request.GET.first(b"op") == b"put":
        stash.put(key, request.GET.first(b"value").decode(), path="/shared")
        return "stored"
    if request.GET.first(b"op") == b"send":
        with stash.lock:
            queue = stash.take(key, path="/channel")
            stash.put(key, queue, path="/channel")
        queue.put(request.GET.first(b"value").decode())
        return "sent"
    return json.dumps(stash.take(key, path="/shared"))
"""

STASH_WS = """
from mod_pywebsocket import msgutil
from wptserve import stash

address, authkey = stash.load_env_config()
stash = stash.Stash("/shared", address=address, authkey=authkey)


def web_socket_do_extra_handshake(request):
    pass


def web_socket_transfer_data(request):
    while True:
        line = request.ws_stream.receive_message()
        if line is None:
            return
        op, key, value = line.split(" ")
        if op == "take-env":
            msgutil.send_message(request, repr(stash.take(key)))
        elif op == "take-server":
            msgutil.send_message(request, repr(request.server.stash.take(key, path="/shared")))
        elif op == "put":
            request.server.stash.put(key, value, path="/shared")
            msgutil.send_message(request, "stored")
        elif op == "listen":
            queue = stash.get_queue()
            stash.put(key, queue, path="/channel")
            msgutil.send_message(request, "listening")
            msgutil.send_message(request, queue.get(timeout=10))
"""


@pytest_twisted.ensureDeferred
async def test_stashBetweenHttpAndWebSocket(
    wsRoot: HandlerRoot, startServer: Callable[[HandlerRoot], WebSocketServer]
) -> None:
    """
    The stash is one between the http port's Python handlers and the ws
    port's handlers: a value put over HTTP is taken by a WebSocket handler
    through wpt's ``stash.load_env_config()`` / ``stash.Stash(path,
    address=..., authkey=...)`` pattern and through ``request.server.stash``,
    and one put by the WebSocket handler is taken over HTTP; a queue from
    ``stash.get_queue()`` kept in the stash carries a message from an HTTP
    request to an open WebSocket.
    """
    wsRoot.write("stash.py", STASH_HTTP)
    wsRoot.write("websockets/handlers/stash_wsh.py", STASH_WS)
    server = startServer(wsRoot)
    keys = [str(uuid.uuid4()) for _ in range(4)]

    def get(query: str) -> bytes:
        with urllib.request.urlopen(f"{server.http}/stash.py?{query}", timeout=10) as answer:
            return answer.read()  # type: ignore[no-any-return]

    def talk() -> List[Any]:
        assert get(f"op=put&id={keys[0]}&value=from-http-1") == b"stored"
        assert get(f"op=put&id={keys[1]}&value=from-http-2") == b"stored"
        with client(server.ws + "/stash") as ws:
            ws.send(f"take-env {keys[0]} -")
            ws.send(f"take-server {keys[1]} -")
            ws.send(f"take-env {keys[0]} -")
            ws.send(f"put {keys[2]} from-ws")
            answers = [ws.recv(), ws.recv(), ws.recv(), ws.recv()]
            answers.append(json.loads(get(f"op=take&id={keys[2]}")))
            ws.send(f"listen {keys[3]} -")
            answers.append(ws.recv())
            answers.append(get(f"op=send&id={keys[3]}&value=through-the-queue"))
            answers.append(ws.recv())
            return answers

    assert await inThread(talk) == [
        "'from-http-1'", "'from-http-2'", "None", "stored", "from-ws", "listening", b"sent", "through-the-queue",
    ]


@pytest_twisted.ensureDeferred
async def test_handlerErrorClosesOnlyThatConnection(
    wsRoot: HandlerRoot, startServer: Callable[[HandlerRoot], WebSocketServer]
) -> None:
    """
    A handler that raises in ``web_socket_transfer_data`` loses its own
    connection (no closing handshake, as pywebsocket: the error is logged);
    the port and the thread pool go on serving.
    """
    wsRoot.write(
        "websockets/handlers/crash_wsh.py",
        """
        def web_socket_do_extra_handshake(request):
            pass

        def web_socket_transfer_data(request):
            raise RuntimeError("handler bug")
        """,
    )
    server = startServer(wsRoot)

    def crash() -> Any:
        with client(server.ws + "/crash") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv()
            return closed.value.rcvd

    def echo() -> Any:
        with client(server.ws + "/echo") as ws:
            ws.send("still here")
            return ws.recv()

    assert await inThread(crash) is None
    assert await inThread(echo) == "still here"


def test_modPywebsocketIsPywebsocket3() -> None:
    """``mod_pywebsocket`` and its submodules are the very ``pywebsocket3`` modules (same exception classes)."""
    from twisted_pyhandlers._wshandlers import installModPywebsocket

    installModPywebsocket()
    import pywebsocket3.handshake.hybi
    from mod_pywebsocket import handshake, msgutil, stream  # type: ignore[import-not-found]
    from mod_pywebsocket.handshake import AbortedByUserException, hybi  # type: ignore[import-not-found]

    assert hybi is pywebsocket3.handshake.hybi
    assert AbortedByUserException is pywebsocket3.handshake.AbortedByUserException
    assert (handshake.__name__, msgutil.__name__, stream.__name__) == (
        "pywebsocket3.handshake", "pywebsocket3.msgutil", "pywebsocket3.stream",
    )


def test_getQueueNeedsTheMemoryStore() -> None:
    """
    ``get_queue()`` gives a queue shared by every thread with the in-memory
    store; a Redis store cannot share one between processes and says so.
    """
    from twisted_pyhandlers.redisstash import RedisStashStore

    queue = Stash(MemoryStashStore(), "/a").get_queue()
    queue.put(1)
    assert queue.get_nowait() == 1
    with pytest.raises(StashError, match=r"get_queue\(\) needs the in-memory stash"):
        Stash(RedisStashStore("redis://127.0.0.1:1/0"), "/a").get_queue()


def test_compatStashAddresses() -> None:
    """
    ``wptserve.stash.Stash(path, address=..., authkey=...)``: the address
    of a store of this process gives that store; none gives the process's
    shared store; any other (a real wptserve manager's) is a StashError.
    """
    from twisted_pyhandlers.compat.wptserve import stash as compat
    from twisted_pyhandlers.stash import sharedMemoryStore

    store = MemoryStashStore()
    address = compat.storeAddress(store)
    saved = os.environ.get("WPT_STASH_CONFIG")
    try:
        compat.store_env_config(address, b"key")
        assert compat.load_env_config() == (address, b"key")
    finally:
        if saved is not None:
            os.environ["WPT_STASH_CONFIG"] = saved
    key = str(uuid.uuid4())
    compat.Stash("/p", address=address, authkey=b"").put(key, "v")
    assert Stash(store, "/p").take(key) == "v"
    assert compat.Stash("/p").store is sharedMemoryStore()
    with pytest.raises(StashError, match=r"no stash at \('127.0.0.1', 1234\)"):
        compat.Stash("/p", address=("127.0.0.1", 1234), authkey=b"x")


def tlsContext(ca: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    return context


def test_wssWithMadeCertificate(tmp_path: Path) -> None:
    """
    ``twistd pyhandlers`` with ``--listen ws=...`` and ``--listen wss=...``
    and ``--ws-handlers`` (relative to the root): both ports run the
    handlers, wss with the made certificate (verified against the made CA
    for localhost); ``request.is_https()`` tells them apart; handlers see
    both ports in the config; stopping the server with a WebSocket still
    open ends promptly.
    """
    root = tmp_path / "root"
    (root / "ws").mkdir(parents=True)
    (root / "ws" / "echo_wsh.py").write_text(textwrap.dedent(ECHO))
    (root / "ws" / "info_wsh.py").write_text(textwrap.dedent("""
        import json

        def web_socket_do_extra_handshake(request):
            pass

        def web_socket_transfer_data(request):
            ports = request.server.config["ports"]
            request.ws_stream.send_message(
                json.dumps({"https": request.is_https(), "ws": ports["ws"], "wss": ports["wss"]}), binary=False)
            request.ws_stream.receive_message()
    """))
    server = Server(
        tmp_path, "--root", str(root), "--ws-handlers", "ws", "--tls-dir", "tls",
        "--listen", "ws=tcp:0:interface=127.0.0.1", "--listen", "wss=tcp:0:interface=127.0.0.1",
    )
    server.start(origins=2)
    try:
        text = server.text()
        assert f"WebSocket handlers from {root}/ws: /echo /info" in text
        (wsPort,), (wssPort,) = server.ports("ws"), server.ports("wss")
        assert {(u, s) for u, _, _, s in server.origins()} == {("ws", "ws"), ("wss", "wss")}
        context = tlsContext(tmp_path / "tls" / "ca.pem")
        with client(f"wss://localhost:{wssPort}/echo", ssl=context) as ws:
            ws.send("secure")
            assert ws.recv() == "secure"
        with client(f"wss://localhost:{wssPort}/info", ssl=context) as ws:
            assert json.loads(ws.recv()) == {"https": True, "ws": [wsPort], "wss": [wssPort]}
        with client(f"ws://127.0.0.1:{wsPort}/info") as ws:
            assert json.loads(ws.recv())["https"] is False
            # Left open (the handler waits for a message) while the server stops.
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 10
        assert "Server Shut Down." in server.text()
        assert "Traceback" not in server.text()
    finally:
        server.stop()


def test_wsHandlersOption(tmp_path: Path) -> None:
    """
    ``--ws-handlers`` naming no directory is a usage error of one line;
    ``--help`` documents it.
    """
    from twisted_pyhandlers.tap import OptionError, Options

    with pytest.raises(OptionError, match=r"^twistd pyhandlers: --ws-handlers 'nowhere': no directory .*/nowhere$"):
        Options().parseOptions(["--root", str(tmp_path), "--ws-handlers", "nowhere"])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    result = subprocess.run(
        [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "pyhandlers", "--help"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert "--ws-handlers=" in result.stdout and "websockets/handlers" in result.stdout, result.stdout


def test_webSocketOverHTTP2(tmp_path: Path) -> None:
    """
    On the h2 port (RFC 8441): the first SETTINGS enable extended CONNECT;
    a CONNECT with ``:protocol websocket`` runs the same ``*_wsh.py``
    handler as the ws ports, answered ``200`` with the chosen subprotocol;
    WebSocket frames travel in the stream's DATA (an echo, the closing
    handshake with its code and reason), and the stream ends after it; a
    path with no handler is a 404 and a refusing extra handshake a 403,
    each ending only its stream.
    """
    from h2client import FrameClient, statusOf
    from hpack import Encoder
    from hyperframe.frame import DataFrame, HeadersFrame, SettingsFrame

    root = tmp_path / "root"
    (root / "ws").mkdir(parents=True)
    (root / "ws" / "echo_wsh.py").write_text(textwrap.dedent(ECHO))
    (root / "ws" / "reject_wsh.py").write_text(
        "def web_socket_do_extra_handshake(request):\n    raise ValueError('no')\n\n"
        "def web_socket_transfer_data(request):\n    pass\n"
    )
    server = Server(tmp_path, "--root", str(root), "--ws-handlers", "ws", "--tls-dir", "tls",
                    "--listen", "h2=tcp:0:interface=127.0.0.1")
    server.start(origins=1)
    try:
        (port,) = server.ports("h2")
        client = FrameClient(port)
        settings = client.frame()
        assert isinstance(settings, SettingsFrame) and settings.settings.get(0x8) == 1
        encoder = Encoder()

        def connect(streamID: int, path: str, *extra: Tuple[str, str]) -> None:
            headers = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":path", path),
                       (":authority", f"localhost:{port}"), ("sec-websocket-version", "13"), *extra]
            client.sock.sendall(HeadersFrame(streamID, data=encoder.encode(headers), flags=["END_HEADERS"]).serialize())

        def streamFrames(streamID: int, until: Callable[[Any], bool]) -> List[Any]:
            seen = []
            while True:
                got = client.frame()
                if got.stream_id == streamID:
                    seen.append(got)
                    if until(got):
                        return seen

        connect(1, "/echo", ("sec-websocket-protocol", "chat, echo"))
        (answer,) = streamFrames(1, lambda f: isinstance(f, HeadersFrame))
        headers = dict(client.headersOf(answer))
        assert statusOf(client.headersOf(answer)) == 200 and "END_STREAM" not in answer.flags
        assert headers[b"sec-websocket-protocol"] == b"echo"
        client.sock.sendall(DataFrame(1, data=frame(1, b"hello over h2")).serialize())
        echoed = b""
        while echoed != b"\x81\x0dhello over h2":
            echoed += b"".join(f.data for f in streamFrames(1, lambda f: isinstance(f, DataFrame)))
        client.sock.sendall(DataFrame(1, data=closeFrame(4000, b"bye")).serialize())
        rest = streamFrames(1, lambda f: "END_STREAM" in f.flags)
        assert b"".join(f.data for f in rest if isinstance(f, DataFrame)) == b"\x88\x05\x0f\xa0bye"

        for streamID, path, status in ((3, "/nothing", 404), (5, "/reject", 403)):
            connect(streamID, path)
            (refused,) = streamFrames(streamID, lambda f: isinstance(f, HeadersFrame))
            assert statusOf(client.headersOf(refused)) == status and "END_STREAM" in refused.flags
        client.close()
        assert "Traceback" not in server.text()
    finally:
        server.stop()
