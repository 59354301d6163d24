"""
The access log: one Combined Log Format line per request, whichever way
the request ended, its size field the body's bytes only, through a real
``twistd pyhandlers --access-log`` process and real sockets.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest
from serving import TwistdProcess
from twisted.python import usage

from twisted_pyhandlers._h11writer import HeadScanner
from twisted_pyhandlers.tap import Options

#: One access log line: host, time, request line, status, size, referrer, agent, and
#: what --verbose adds.
LINE = re.compile(
    r'^(?P<host>\S+) - - \[[^\]]+\] "(?P<method>\S+) (?P<uri>\S+) HTTP/1\.1" (?P<code>\d{3}) (?P<size>\d+|-) '
    r'"(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)"(?P<extra>.*)$'
)

HANDLERS = {
    "hello.py": "def main(request, response):\n    return 'hello'\n",
    # Writes the whole response itself, then keeps running after the client has read it all.
    "writer.py": (
        "import time\n"
        "def main(request, response):\n"
        "    response.writer.write_status(201)\n"
        "    response.writer.write_header('Content-Length', '5')\n"
        "    response.writer.end_headers()\n"
        "    response.writer.write('hello')\n"
        "    time.sleep(0.3)\n"
    ),
    "boom.py": "def main(request, response):\n    raise ValueError('boom')\n",
    "slow.py": "import time\ndef main(request, response):\n    time.sleep(0.3)\n    return 'late'\n",
    "raw.py": (
        "def main(request, response):\n"
        "    response.writer.write(b'HTTP/1.1 103 Early Hints\\r\\nLink: </a>\\r\\n\\r\\n')\n"
        "    response.writer.write(b'HTTP/1.1 202 Raw\\r\\nContent-')\n"
        "    response.writer.write(b'Length: 3\\r\\n\\r\\nabc')\n"
    ),
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with a handler for each way a request can end, and a static file."""
    directory = tmp_path / "root"
    directory.mkdir()
    for name, source in HANDLERS.items():
        (directory / name).write_text(source)
    (directory / "file.txt").write_bytes(b"x" * 1000)
    (directory / "big.bin").write_bytes(b"y" * (64 * 1024 * 1024))
    return directory


def readAll(port: int, path: str, headers: str = "", close: bool = True) -> bytes:
    """Send one GET and read the response to its end (the server closes, or ``close`` is False and we stop after the body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(
            f"GET {path} HTTP/1.1\r\nHost: t\r\n{headers}{'Connection: close' if close else 'Connection: keep-alive'}\r\n\r\n".encode()
        )
        received = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                return received
            received += chunk
            head, sep, body = received.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: (\d+)", head)
            if not close and sep and length and len(body) >= int(length.group(1)):
                # A keep-alive client done with its response: it goes away now.
                return received


def abandon(port: int, path: str) -> None:
    """Send a GET and go away at once, without reading anything."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())


def waitForLines(path: Path, count: int, timeout: float = 60) -> List[str]:
    """The access log's lines once it has ``count`` (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def parse(lines: List[str]) -> List[Dict[str, str]]:
    """Each line's fields; every line must be one Combined Log Format line."""
    parsed = []
    for line in lines:
        match = LINE.match(line)
        assert match, line
        parsed.append(match.groupdict())
    return parsed


def test_everyRequestOneLine(tmp_path: Path, root: Path) -> None:
    """
    200 concurrent requests through a real twistd process: plain handlers,
    handlers that wrote their response themselves (the client leaving once
    it has read it, before the handler returned), handler 500s, clients that
    left before any answer, raw status lines after a 103, static files --
    give exactly 200 lines, each with the status line's code as written and
    the body's byte count (``-`` for none), the referrer escaped.
    """
    log = tmp_path / "access.log"
    server = TwistdProcess(tmp_path, "--root", str(root), "--access-log", str(log))
    port = server.port
    jobs: List[Tuple[str, Callable[[], object]]] = []
    for i in range(60):
        jobs.append(("hello", lambda i=i: readAll(port, f"/hello.py?i={i}", 'Referer: a"b\r\nUser-Agent: t/1\r\n')))
    for i in range(40):
        jobs.append(("writer", lambda i=i: readAll(port, f"/writer.py?i={i}", close=False)))
    for i in range(40):
        jobs.append(("boom", lambda i=i: readAll(port, f"/boom.py?i={i}")))
    for i in range(30):
        jobs.append(("slow", lambda i=i: abandon(port, f"/slow.py?i={i}")))
    for i in range(20):
        jobs.append(("file", lambda i=i: readAll(port, f"/file.txt?i={i}")))
    for i in range(10):
        jobs.append(("raw", lambda i=i: readAll(port, f"/raw.py?i={i}")))
    answers: Dict[str, List[bytes]] = {}
    failures: List[BaseException] = []

    def run(kind: str, job: Callable[[], object]) -> None:
        try:
            answer = job()
        except BaseException as e:  # noqa: BLE001 - reported below
            failures.append(e)
        else:
            answers.setdefault(kind, []).append(answer if isinstance(answer, bytes) else b"")

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not failures, failures
        lines = waitForLines(log, 200)
    finally:
        server.stop()
    # Nothing more after the stop (no line twice).
    lines = log.read_text().splitlines()
    assert len(lines) == 200, "\n".join(lines)
    fields = parse(lines)
    byPath: Dict[str, List[Dict[str, str]]] = {}
    for entry in fields:
        byPath.setdefault(entry["uri"].partition("?")[0], []).append(entry)
    assert Counter({path: len(entries) for path, entries in byPath.items()}) == Counter(
        {"/hello.py": 60, "/writer.py": 40, "/boom.py": 40, "/slow.py": 30, "/file.txt": 20, "/raw.py": 10}
    )
    assert {(e["code"], e["size"], e["referrer"], e["agent"]) for e in byPath["/hello.py"]} == {("200", "5", 'a\\"b', "t/1")}
    assert {(e["code"], e["size"]) for e in byPath["/writer.py"]} == {("201", "5")}
    assert {(e["code"], e["size"]) for e in byPath["/slow.py"]} == {("200", "-")}
    assert {(e["code"], e["size"]) for e in byPath["/file.txt"]} == {("200", "1000")}
    assert {(e["code"], e["size"]) for e in byPath["/raw.py"]} == {("202", "3")}
    # A 500's size is the length of the JSON body the client received.
    bodySizes = {str(len(answer.partition(b"\r\n\r\n")[2])) for answer in answers["boom"]}
    assert {(e["code"], e["size"]) for e in byPath["/boom.py"]} == {("500", size) for size in bodySizes}
    assert all(e["host"] == "127.0.0.1" and e["extra"] == "" for e in fields)


def test_staticClientGoneMidTransfer(tmp_path: Path, root: Path) -> None:
    """
    A client that reads the start of a large static file and goes away
    still gets its line: status 200 and the body bytes sent before it left
    (fewer than the file's).
    """
    log = tmp_path / "access.log"
    server = TwistdProcess(tmp_path, "--root", str(root), "--access-log", str(log))
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            connection.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            assert connection.recv(4096).startswith(b"HTTP/1.1 200 ")
        lines = waitForLines(log, 1)
    finally:
        server.stop()
    [entry] = parse(lines)
    assert entry["uri"] == "/big.bin" and entry["code"] == "200"
    assert entry["size"] == "-" or int(entry["size"]) < 64 * 1024 * 1024


def test_verboseAddsRunTime(tmp_path: Path, root: Path) -> None:
    """
    ``--verbose`` ends each line with the handler's run time in
    milliseconds (``-`` for a plain static file, which no handler runs);
    ``--logfile`` is the same option as ``--access-log``.
    """
    log = tmp_path / "access.log"
    server = TwistdProcess(tmp_path, "--root", str(root), "--logfile", str(log), "--verbose")
    try:
        urllib.request.urlopen(server.url("/hello.py"), timeout=30).read()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(server.url("/boom.py"), timeout=30)
        urllib.request.urlopen(server.url("/file.txt"), timeout=30).read()
        abandon(server.port, "/slow.py")
        lines = waitForLines(log, 4)
    finally:
        server.stop()
    extras = {entry["uri"]: entry["extra"] for entry in parse(lines)}
    assert set(extras) == {"/hello.py", "/boom.py", "/file.txt", "/slow.py"}
    assert extras["/file.txt"] == " -"
    for path in ("/hello.py", "/boom.py", "/slow.py"):
        assert re.fullmatch(r" \d+\.\d{3}ms", extras[path]), extras
    # The abandoned handler sleeps 0.3 s: its run time says so.
    assert float(extras["/slow.py"].strip()[:-2]) >= 300


def test_accessLogOptions(tmp_path: Path) -> None:
    """
    ``--access-log`` and its alias ``--logfile`` set the same option;
    there is no ``-l`` (twistd's own log option).
    """
    for option in ("--access-log", "--logfile"):
        options = Options()
        options.parseOptions(["--root", str(tmp_path), option, "a.log"])
        assert options["access-log"] == "a.log"
    with pytest.raises(usage.UsageError, match="option -l not recognized"):
        Options().parseOptions(["--root", str(tmp_path), "-l", "a.log"])


@pytest.mark.parametrize(
    "writes, code, bodyStart",
    [
        ([b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"], 200, 25),
        ([b"HTTP/1.1 404 Not", b" Found\r\nA: b\r", b"\n", b"\r\nbody"], 404, 32),
        ([b"HTTP/1.1 103 Early\r\nLink: x\r\n\r\n", b"HTTP/1.1 204 No\r\n\r\n"], 204, 50),
        ([b"HTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\nframes"], 101, 38),
        ([b"HTTP/1.0 302 Found\nLocation: /\n\nbody"], 302, 32),
        ([b"HTTP/1.1 200 OK\r\nA: b\r\n"], 200, None),
        ([b"garbage\r\n\r\nmore"], None, 11),
    ],
)
def test_headScanner(writes: List[bytes], code: object, bodyStart: object) -> None:
    """
    The writer finds the status code and where the body starts in the
    bytes written, however they are split; 1xx interim responses (not 101)
    belong to the head; a head that never ends has no body.
    """
    scanner = HeadScanner()
    for data in writes:
        scanner.feed(data)
    assert (scanner.code, scanner.bodyStart) == (code, bodyStart)


class _Pipe:
    """What the writer needs of a connection pipe: it keeps the bytes."""

    def __init__(self) -> None:
        self.data = b""
        self.lost = False
        self.bodyStart: object = None

    def write(self, data: bytes) -> bool:
        self.data += data
        return True


class _Response:
    request = None
    content = b"body!"
    encoding = "utf-8"
    add_required_headers = False


@pytest.mark.parametrize(
    "steps",
    [
        # The writer's own framing: nothing is searched, the figures are known.
        [("status", 201), ("header", b"A", b"b"), ("end",), ("raw", b"body!")],
        # A 103 framed by the writer, then the final response.
        [("status", 103), ("header", b"Link", b"x"), ("end",), ("status", 200), ("end",), ("raw", b"body!")],
        # A status line from the writer, the rest of the head raw.
        [("status", 202), ("raw", b"X: y\r\n"), ("raw", b"\r\nbody!")],
        # A raw head, then body.
        [("raw", b"HTTP/1.1 203 Raw\r\nA: b\r\n\r\n"), ("raw", b"body!")],
    ],
)
def test_writerFindsTheHeadHoweverItIsWritten(steps: List[tuple]) -> None:
    """
    The access log's status and body start are right whether the writer
    frames the head itself (then it is not searched), the handler writes
    it raw, or both in turn: they are what a scan of all the bytes finds.
    """
    from twisted_pyhandlers._h11writer import ResponseWriter

    pipe = _Pipe()
    response = _Response()
    writer = ResponseWriter(pipe, response)  # type: ignore[arg-type]
    for step in steps:
        if step[0] == "status":
            writer.write_status(step[1])
        elif step[0] == "header":
            writer.write_header(step[1], step[2])
        elif step[0] == "end":
            writer.end_headers()
        else:
            writer.write(step[1])
    scanner = HeadScanner()
    scanner.feed(pipe.data)
    assert pipe.data.endswith(b"body!")
    assert (writer.status_code, pipe.bodyStart) == (scanner.code, scanner.bodyStart)
    assert pipe.bodyStart == len(pipe.data) - len(b"body!")
