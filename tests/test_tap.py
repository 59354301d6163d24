"""
``twistd pyhandlers``: the plugin is found, its options parse as documented,
and a real twistd process serves a root on the endpoints it is given.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

import pytest
import pytest_twisted
from rawhttp import exchange

from twisted_pyhandlers import HandlerSite
from twisted_pyhandlers._schemes import HTTP11Site
from twisted_pyhandlers.tap import (
    DEFAULT_LISTEN,
    ListeningService,
    OptionError,
    Options,
    QuietSite,
    makeService,
    withBacklog,
)

REPO = Path(__file__).resolve().parent.parent


def twistd(*arguments: str) -> list:
    """The command line that runs twistd with this Python."""
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", *arguments]


def childEnvironment() -> dict:
    """The checkout on the path, so the plugin in twisted/plugins/ is found."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def test_pluginListed() -> None:
    """``twistd --help`` lists the pyhandlers plugin."""
    result = subprocess.run(twistd("--help"), env=childEnvironment(), capture_output=True, text=True, timeout=60)
    assert re.search(r"^\s+pyhandlers\s", result.stdout, re.MULTILINE), result.stdout


def test_optionsDefaults(tmp_path: Path) -> None:
    """
    Without --listen the server listens on port 8000 of 127.0.0.1 only;
    --listen repeats; --threads takes a number.
    """
    options = Options()
    options.parseOptions(["--root", str(tmp_path)])
    assert options["listen"] == [DEFAULT_LISTEN] == ["tcp:8000:interface=127.0.0.1"]
    assert (options["handler-timeout"], options["header-timeout"], options["idle-timeout"], options["max-body"]) == (
        120.0, 30.0, 60.0, 1024**3,
    )
    options = Options()
    options.parseOptions(
        ["--root", str(tmp_path), "--listen", "tcp:1:interface=127.0.0.1", "--listen", "unix:/tmp/x", "--threads", "7"]
    )
    assert options["listen"] == ["tcp:1:interface=127.0.0.1", "unix:/tmp/x"]
    assert options["threads"] == 7


@pytest.mark.parametrize(
    "description, expected",
    [
        ("tcp:8000:interface=127.0.0.1", "tcp:8000:interface=127.0.0.1:backlog=1024"),
        ("tcp6:port=0:interface=\\:\\:1", "tcp6:port=0:interface=\\:\\:1:backlog=1024"),
        ("TCP:0:backlog=5", "TCP:0:backlog=5"),
        ("unix:/tmp/a\\:backlog=3", "unix:/tmp/a\\:backlog=3:backlog=1024"),
        ("ssl:443:privateKey=key.pem", "ssl:443:privateKey=key.pem:backlog=1024"),
        ("systemd:domain=INET:index=0", "systemd:domain=INET:index=0"),
    ],
)
def test_withBacklog(description: str, expected: str) -> None:
    """
    Stream endpoints that take a backlog get 1024 unless they name one (an
    escaped colon is part of a value, not a field); others are unchanged.
    """
    assert withBacklog(description) == expected


@pytest_twisted.ensureDeferred
async def test_listeningBacklog(tmp_path: Path) -> None:
    """
    The ports the service really listens on have a listen queue of 1024,
    or the one the description names: a few hundred connections opened at
    once are not dropped (Twisted's default is 50).
    """
    options = Options()
    options.parseOptions(
        [
            "--root", str(tmp_path), "--keep-malloc-defaults",
            "--listen", "tcp:0:interface=127.0.0.1", "--listen", "tcp:0:interface=127.0.0.1:backlog=7",
        ]
    )
    service = makeService(options)
    service.startService()
    try:
        ports = [child.port for child in service if isinstance(child, ListeningService)]  # type: ignore[attr-defined]
        assert [port.backlog for port in ports] == [1024, 7]  # type: ignore[union-attr]
    finally:
        await service.stopService()


def test_keepMallocDefaultsFlag(tmp_path: Path) -> None:
    """The allocator setting is on unless --keep-malloc-defaults is given."""
    options = Options()
    options.parseOptions(["--root", str(tmp_path)])
    assert not options["keep-malloc-defaults"]
    options = Options()
    options.parseOptions(["--root", str(tmp_path), "--keep-malloc-defaults"])
    assert options["keep-malloc-defaults"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        ([], "--root is required"),
        (["--root", "/no/such/directory"], "is not a directory"),
        (["--root", ".", "--threads", "0"], "at least 1"),
        (["--root", ".", "--handler-timeout", "-1"], "--handler-timeout cannot be negative"),
        (["--root", ".", "--max-body", "-5"], "--max-body cannot be negative"),
    ],
)
def test_optionsErrors(arguments: list, message: str) -> None:
    """Bad option values are OptionErrors (a SystemExit: one line, no help text) that say what is wrong."""
    with pytest.raises(OptionError, match=message) as info:
        Options().parseOptions(arguments)
    assert isinstance(info.value, SystemExit)
    assert str(info.value) == f"twistd pyhandlers: {info.value.message}"


def test_twistdServes(tmp_path: Path) -> None:
    """
    A real ``twistd -n pyhandlers`` process on two system-chosen loopback
    ports serves the root's handlers on both, and handlers see both ports
    in ``request.server.config``.
    """
    root = tmp_path / "root"
    root.mkdir()
    (root / "ports.py").write_text(
        "def main(request, response):\n"
        "    return ','.join(str(p) for p in sorted(request.server.config['ports']['http']))\n"
    )
    log = tmp_path / "twistd.log"
    process = subprocess.Popen(
        twistd(
            "-n", "--pidfile=", "--logfile", str(log), "pyhandlers", "--root", str(root),
            "--listen", "tcp:0:interface=127.0.0.1", "--listen", "tcp:0:interface=127.0.0.1",
        ),
        env=childEnvironment(),
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 30
        ports: list = []
        while len(ports) < 2:
            assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
            if log.exists():
                ports = re.findall(r"listening on IPv4Address\(type='TCP', host='127\.0\.0\.1', port=(\d+)\)", log.read_text())
        for port in ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ports.py", timeout=10) as answer:
                assert answer.status == 200
                assert answer.read().decode() == ",".join(sorted(ports, key=int))
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(
    "logfile, siteClass",
    [(None, QuietSite), ("-", HTTP11Site), ("access.log", HTTP11Site)],
)
def test_sitesAreHandlerSites(tmp_path: Path, logfile: Optional[str], siteClass: type) -> None:
    """
    Every Site makeService builds is a HandlerSite (names as sent, bodies
    left to handlers) that speaks HTTP/1.1 only, quiet without --logfile;
    with one, it logs.
    """
    arguments = ["--root", str(tmp_path), "--keep-malloc-defaults"]
    if logfile is not None:
        arguments += ["--logfile", logfile if logfile == "-" else str(tmp_path / logfile)]
    options = Options()
    options.parseOptions(arguments)
    service = makeService(options)
    sites = [child.factory for child in service if isinstance(child, ListeningService)]  # type: ignore[attr-defined]
    assert sites and all(type(site) is siteClass for site in sites)
    assert all(isinstance(site, HandlerSite) and not site._parsePOSTFormSubmission for site in sites)


@pytest_twisted.ensureDeferred
async def test_serviceKeepsHeaderNamesAsSent(tmp_path: Path) -> None:
    """
    Over a real socket, a handler served by makeService's site sees request
    header names exactly as the client wrote them, in order.
    """
    (tmp_path / "names.py").write_text(
        "def main(request, response):\n"
        "    return '|'.join(name for name, _ in request.raw_headers.raw_items())\n"
    )
    options = Options()
    options.parseOptions(["--root", str(tmp_path), "--keep-malloc-defaults", "--listen", "tcp:0:interface=127.0.0.1"])
    service = makeService(options)
    service.startService()
    try:
        port = [child.port for child in service if isinstance(child, ListeningService)][0]  # type: ignore[attr-defined]
        answer = await exchange(
            port.getHost().port,  # type: ignore[union-attr]
            b"GET /names.py HTTP/1.1\r\nhost: h\r\nx-test: 1\r\nStatus-URI: 2\r\nX-TEST: 3\r\nConnection: close\r\n\r\n",
        )
        assert answer.endswith(b"\r\n\r\nhost|x-test|Status-URI|X-TEST|Connection")
    finally:
        await service.stopService()


def startTwistd(tmp_path: Path, root: Path, *options: str) -> tuple:
    """A ``twistd -n pyhandlers`` process on a system-chosen port: (process, port, log)."""
    log = tmp_path / "twistd.log"
    process = subprocess.Popen(
        twistd("-n", "--pidfile=", "--logfile", str(log), "pyhandlers", "--root", str(root),
               "--listen", "tcp:0:interface=127.0.0.1", *options),
        env=childEnvironment(),
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 30
    while True:
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "no log"
        assert process.poll() is None, log.read_text() if log.exists() else "exited"
        time.sleep(0.1)
        found = re.findall(r"listening on IPv4Address\(type='TCP', host='127\.0\.0\.1', port=(\d+)\)", log.read_text()) if log.exists() else []
        if found:
            return process, int(found[0]), log


def startStuckRequests(port: int, count: int) -> list:
    """Open ``count`` requests to /stuck.py and leave them waiting."""
    import socket

    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(b"GET /stuck.py HTTP/1.1\r\nHost: x\r\n\r\n")
        sockets.append(sock)
    return sockets


def test_twistdRunawayHandlers(tmp_path: Path) -> None:
    """
    A real twistd process with ``--handler-timeout 1`` and 2 threads: three
    handlers that never return are each answered 504, the log names the
    handler and shows where it was stuck, a normal handler is still
    answered, and SIGTERM then stops the process, exit code 0.
    """
    root = tmp_path / "root"
    root.mkdir()
    (root / "stuck.py").write_text("import time\ndef main(request, response):\n    while True:\n        time.sleep(0.05)\n")
    (root / "ok.py").write_text("def main(request, response):\n    return 'ok'\n")
    process, port, log = startTwistd(tmp_path, root, "--threads", "2", "--handler-timeout", "1")
    try:
        sockets = startStuckRequests(port, 3)
        for sock in sockets:
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                assert chunk, answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 504 Gateway Timeout\r\n")
            sock.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ok.py", timeout=10) as answer:
            assert answer.read() == b"ok"
        text = log.read_text()
        assert "stuck.py still running after 1 s (--handler-timeout): answered 504" in text
        assert "time.sleep(0.05)" in text
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0


def test_twistdStopsDespiteStuckHandlers(tmp_path: Path) -> None:
    """
    With no handler timeout, handlers that never return hold every thread;
    SIGTERM still stops the process within a few seconds, exit code 0
    (the threads are left behind, not waited for).
    """
    root = tmp_path / "root"
    root.mkdir()
    (root / "stuck.py").write_text("import time\ndef main(request, response):\n    while True:\n        time.sleep(0.05)\n")
    process, port, log = startTwistd(tmp_path, root, "--threads", "4", "--handler-timeout", "0")
    sockets = startStuckRequests(port, 6)
    try:
        time.sleep(0.5)
        begun = time.monotonic()
        process.terminate()
        assert process.wait(timeout=15) == 0
        assert time.monotonic() - begun < 8
        assert "left behind" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
        for sock in sockets:
            sock.close()
