"""
Property-based proof that malformed requests never hurt the server: a few
thousand request lines, header blocks, bodies and encodings drawn by
hypothesis, sent over raw sockets to a real ``twistd pyhandlers`` process,
in batches sent at once.  Each request is answered with a status below 500
(a 4xx for what is malformed) or the connection is closed; after each batch
the process is alive and a normal request is answered; at the end the
process has no more threads than its pool allows.
"""

from __future__ import annotations

import re
import selectors
import socket
import subprocess
import time
import urllib.request
from typing import Iterator, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tap import childEnvironment, twistd

#: Threads of the server's pool.
THREADS = 8

#: How long a batch's connections may stay quiet before the client stops
#: sending (half-closes) and waits for the server to close.
QUIET = 0.3

#: The longest a batch may take to be answered or closed, in all.
BATCH_DEADLINE = 60.0

ECHO = """\
def main(request, response):
    parts = request.url_parts
    try:
        form = len(request.POST)
    except Exception as error:  # a handler's own choice: bad forms are its business
        form = type(error).__name__
    return repr((parts.scheme, parts.hostname, parts.port, parts.path, sorted(request.GET.keys()),
                 len(request.headers), len(request.cookies), request.auth.username,
                 len(request.body), form, request.method, request.protocol_version))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[subprocess.Popen, int]]:
    """A twistd process serving handlers, a static file and a directory."""
    base = tmp_path_factory.mktemp("properties")
    root = base / "root"
    (root / "dir").mkdir(parents=True)
    (base / "secret.txt").write_text("SECRET")
    (root / "echo.py").write_text(ECHO)
    (root / "ok.py").write_text("def main(request, response):\n    return 'ok'\n")
    (root / "threads.py").write_text("import threading\ndef main(request, response):\n    return str(threading.active_count())\n")
    (root / "file.txt").write_text("static")
    log = base / "twistd.log"
    process = subprocess.Popen(
        twistd(
            "-n", "--pidfile=", "--logfile", str(log), "pyhandlers", "--root", str(root), "--keep-malloc-defaults",
            "--listen", "tcp:0:interface=127.0.0.1", "--threads", str(THREADS), "--handler-timeout", "10",
            "--header-timeout", "5", "--max-body", "100000",
        ),
        env=childEnvironment(),
        cwd=base,
    )
    deadline = time.monotonic() + 30
    port = 0
    while not port:
        assert time.monotonic() < deadline and process.poll() is None, log.read_text() if log.exists() else "no log"
        time.sleep(0.1)
        found = re.findall(r"port=(\d+)\)", log.read_text()) if log.exists() else []
        port = int(found[0]) if found else 0
    yield process, port
    process.terminate()
    assert process.wait(timeout=15) == 0
    assert "SECRET" not in log.read_text()


# -- what is drawn ---------------------------------------------------------------

LINE_ENDS = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"\r\r\n", b"\x00"])
METHODS = st.one_of(
    st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT", b"OPTIONS", b"DELETE", b"get", b"G ET", b"", b"CONNECT"]),
    st.binary(max_size=12),
)
TARGETS = st.one_of(
    st.sampled_from(
        [b"/echo.py", b"/ok.py", b"/file.txt", b"/", b"/dir", b"/dir/", b"/../secret.txt", b"/%2e%2e/secret.txt",
         b"/dir/%2e%2e/%2e%2e/secret.txt", b"*", b"http://x/echo.py", b"//echo.py", b"/echo.py?a=%ff&b&&=c",
         b"/%00", b"/echo.py/extra", b"/\xff\xfe", b"/echo.py?pipe=status(418)", b"/file.txt?pipe=sub"]
    ),
    st.builds(lambda path, query: b"/" + path + b"?" + query, st.binary(max_size=60), st.binary(max_size=60)),
    st.binary(max_size=120),
)
VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0", b"HTTP/0.9", b"HTTP/2", b"HTTP/1.1x", b"", b"http/1.1", b"HTTP/9.9"])
NAMES = st.one_of(
    st.sampled_from(
        [b"Host", b"Content-Length", b"Transfer-Encoding", b"Cookie", b"Authorization", b"Content-Type", b"Range",
         b"Expect", b"Connection", b"Content-Encoding", b"X-Test", b"host", b" Host", b"Host ", b""]
    ),
    st.binary(max_size=20),
)
VALUES = st.one_of(
    st.sampled_from(
        [b"chunked", b"identity", b"gzip, chunked", b"-1", b"1e3", b" 10", b"99999999999999999999", b"0", b"5",
         b"[::1", b"]27.0.0.1", b"[zz]", b"h:abc", b"127.0.0.1:99999", b"localhost", b"multipart/form-data; boundary=x",
         b"application/x-www-form-urlencoded", b"bytes=0-", b"bytes=5-1,x", b"100-continue", b"Basic !!!",
         b"Basic " + b"QTpC", b"a=b; c", b"close", b"keep-alive", b"\xff\xfe", b"\x00", b"a\rb"]
    ),
    st.binary(max_size=80),
)
HEADER = st.builds(
    lambda name, separator, value, fold: name + separator + value + fold,
    NAMES,
    st.sampled_from([b": ", b":", b" : ", b"", b":\t"]),
    VALUES,
    st.sampled_from([b"", b"", b"", b"\r\n folded", b"\r\n\tx"]),
)


@st.composite
def chunked(draw: st.DrawFn) -> bytes:
    """A chunked body, its framing sometimes wrong."""
    out = b""
    for data in draw(st.lists(st.binary(max_size=40), max_size=4)):
        size = draw(st.sampled_from([b"%x" % len(data), b"%x" % (len(data) + 1), b"zz", b"-1", b"%x;ext=1" % len(data)]))
        out += size + b"\r\n" + data + draw(st.sampled_from([b"\r\n", b"", b"\n"]))
    return out + draw(st.sampled_from([b"0\r\n\r\n", b"", b"0\r\nTrailer: x\r\n\r\n", b"0\r\n"]))


BODIES = st.one_of(st.just(b""), st.binary(max_size=300), chunked())


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """One request's bytes: request line, header block and body, any of them malformed."""
    end = draw(LINE_ENDS)
    separator = draw(st.sampled_from([b" ", b" ", b"  ", b"\t"]))
    line = draw(METHODS) + separator + draw(TARGETS) + separator + draw(VERSIONS)
    headers = draw(st.lists(HEADER, max_size=8))
    if draw(st.booleans()):
        headers.insert(0, b"Host: 127.0.0.1")
    if draw(st.integers(0, 9)) > 0:
        headers.append(b"Connection: close")
    head = line + end + b"".join(header + end for header in headers) + end
    return head + draw(BODIES)


# -- sending ---------------------------------------------------------------------


def sendBatch(port: int, batch: List[bytes]) -> List[bytes]:
    """
    Send every request of ``batch`` at once, each on its own connection;
    return what each connection received before the server closed it (the
    client half-closes a connection that stays quiet for :data:`QUIET`).
    """
    selector = selectors.DefaultSelector()
    received = {}
    lastActivity = {}
    for index, data in enumerate(batch):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            sock.sendall(data)
        except OSError:
            pass
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, index)
        received[index] = b""
        lastActivity[index] = time.monotonic()
    halfClosed = set()
    deadline = time.monotonic() + BATCH_DEADLINE
    while selector.get_map():
        assert time.monotonic() < deadline, "connections neither answered nor closed"
        for key, _ in selector.select(timeout=0.05):
            sock, index = key.fileobj, key.data
            try:
                chunk = sock.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except ConnectionResetError:
                chunk = b""
            if chunk:
                received[index] += chunk
                lastActivity[index] = time.monotonic()
            else:
                selector.unregister(sock)
                sock.close()  # type: ignore[union-attr]
        now = time.monotonic()
        for key in list(selector.get_map().values()):
            if key.data not in halfClosed and now - lastActivity[key.data] > QUIET:
                halfClosed.add(key.data)
                try:
                    key.fileobj.shutdown(socket.SHUT_WR)  # type: ignore[union-attr]
                except OSError:
                    pass
    selector.close()
    return [received[index] for index in range(len(batch))]


STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(batch=st.lists(requests(), min_size=10, max_size=30))
def test_malformedRequestsAnsweredBelow500OrClosed(server: Tuple[subprocess.Popen, int], batch: List[bytes]) -> None:
    """
    Every drawn request is answered with statuses below 500 (or the
    connection closes); the server survives and a normal request is
    answered after the batch.
    """
    process, port = server
    for data, answer in zip(batch, sendBatch(port, batch), strict=True):
        for code in STATUS.findall(answer):
            assert int(code) < 500, (data, answer[:500])
        assert b"SECRET" not in answer, data
    assert process.poll() is None
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ok.py", timeout=10) as answer:
        assert answer.read() == b"ok"


def test_threadsBounded(server: Tuple[subprocess.Popen, int]) -> None:
    """After the batches the process runs no more threads than its pool (and the reactor's few)."""
    _, port = server
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/threads.py", timeout=10) as answer:
        assert int(answer.read()) <= THREADS + 12
