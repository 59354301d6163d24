"""
Start-up tells the truth: a real ``twistd pyhandlers`` either serves
everything it was asked to or ends with one plain line and a non-zero exit;
a Redis stash that cannot be reached is a warning, not a silent 500 later;
``--help`` is one line per option; two instances run from one folder.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import List

import pytest
from redisserver import RedisServer, freePort, requireRedisServer
from serving import TwistdProcess, childEnvironment, twistdCommand


def runTwistd(directory: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Run ``twistd -n pyhandlers ARGUMENTS`` (twistd's log on standard output) to its end."""
    return subprocess.run(
        twistdCommand("-n", "--pidfile=", "pyhandlers", "--keep-malloc-defaults", *arguments),
        env=childEnvironment(), cwd=directory, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A working folder with a root and a config whose subdomains are a number."""
    (tmp_path / "root").mkdir()
    (tmp_path / "bad.json").write_text(json.dumps({"subdomains": 5}))
    return tmp_path


@pytest.mark.parametrize(
    "arguments, line",
    [
        (["--listen", "bogus:1"], "twistd pyhandlers: --listen bogus:1: Unknown endpoint type: 'bogus'"),
        (["--listen", "tcp:notaport"], "twistd pyhandlers: --listen tcp:notaport: a port (or other number) is not a number: 'notaport'"),
        (["--tls-cert", "nope.pem", "--tls-key", "nope.key"], "twistd pyhandlers: --tls-cert {folder}/nope.pem: No such file or directory"),
        (["--listen", "ssl:0:privateKey=nope.pem"], "twistd pyhandlers: --listen ssl:0:privateKey=nope.pem: privateKey nope.pem: No such file or directory"),
        (["--config", "bad.json"], "twistd pyhandlers: --config bad.json: subdomains must be a list of strings, not 5"),
        (["--host", ""], "twistd pyhandlers: --host must not be empty"),
        (["--host", "", "--all-ports"], "twistd pyhandlers: --host must not be empty"),
        (["--stash", "mongodb://x"], "twistd pyhandlers: Unsupported stash URL 'mongodb://x': use memory:, redis://host:port/db or manager://:KEY@HOST:PORT/NAME"),
    ],
)
def test_badValueIsOneLine(folder: Path, arguments: List[str], line: str) -> None:
    """
    An option value that cannot be served is exactly one line on standard
    error naming the option (no help text, no traceback) and exit status 1,
    before anything listens.
    """
    result = runTwistd(folder, "--root", "root", *arguments)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [line.format(folder=folder)], result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "listen, reason",
    [
        ("tcp:99999", r"port must be 0-65535"),
        ("tcp:0:interface=1.2.3.4", r"Cannot assign requested address"),
        ("tcp:{busy}:interface=127.0.0.1", r"Address already in use"),
    ],
)
def test_cannotListen(folder: Path, listen: str, reason: str) -> None:
    """
    A ``--listen`` that cannot bind (a bad port, an address not on this
    machine, a port in use) ends start-up with exit status 1 and one error
    line naming it, even when another listener was fine: never a server
    missing one of its ports.
    """
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        description = listen.format(busy=taken.getsockname()[1])
        result = runTwistd(folder, "--root", "root", "--listen", "tcp:0:interface=127.0.0.1", "--listen", description)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    errors = [line for line in output.splitlines() if "#error]" in line or "#critical]" in line]
    assert len(errors) == 1, output
    assert re.search(rf"Cannot listen on {re.escape(description)} \(http\): .*{reason}", errors[0]), output
    assert "Traceback" not in output
    assert "serving http://" not in output


def test_unreachableRedisWarnsAndRecovers(tmp_path: Path) -> None:
    """
    A Redis stash that cannot be reached at start is a warning naming its
    URL; the server serves anyway, a handler using the stash answers a 500
    naming it, and works once Redis is there.
    """
    binary = requireRedisServer()
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "stash.py").write_text(
        "import uuid\n"
        "def main(request, response):\n"
        "    key = str(uuid.uuid4())\n"
        "    request.server.stash.put(key, 'v')\n"
        "    return request.server.stash.take(key)\n"
    )
    port = freePort()
    url = f"redis://127.0.0.1:{port}/0"
    server = TwistdProcess(tmp_path, "--root", "root", "--stash", url)
    try:
        deadline = time.monotonic() + 30
        while "StashCheck#warn" not in server.text():
            assert time.monotonic() < deadline, server.text()
            time.sleep(0.05)
        [warning] = [line for line in server.text().splitlines() if "StashCheck#warn" in line]
        assert f"stash {url} is unreachable" in warning
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(server.url("/stash.py"), timeout=30)
        assert info.value.code == 500
        assert f"stash {url} is unreachable" in json.loads(info.value.read())["error"]["message"]
        redis = RedisServer(binary, port)
        redis.start()
        try:
            with urllib.request.urlopen(server.url("/stash.py"), timeout=30) as answer:
                assert answer.read() == b"v"
        finally:
            redis.stop()
    finally:
        server.stop()


def test_unreachableRedisWarningRedactsPassword(tmp_path: Path) -> None:
    """The start-up warning for an unreachable stash never shows its password."""
    (tmp_path / "root").mkdir()
    server = TwistdProcess(tmp_path, "--root", "root", "--stash", f"redis://:sekrit@127.0.0.1:{freePort()}/0")
    try:
        deadline = time.monotonic() + 30
        while "StashCheck#warn" not in server.text():
            assert time.monotonic() < deadline, server.text()
            time.sleep(0.05)
    finally:
        server.stop()
    assert "redis://:***@127.0.0.1:" in server.text()
    assert "sekrit" not in server.text()


def test_memoryStashNoWarning(tmp_path: Path) -> None:
    """``--stash memory:`` (the default, named) starts with no stash warning."""
    (tmp_path / "root").mkdir()
    server = TwistdProcess(tmp_path, "--root", "root", "--stash", "memory:")
    try:
        with urllib.request.urlopen(server.url("/"), timeout=30) as answer:
            assert answer.status == 200
    finally:
        server.stop()
    assert "#warn]" not in server.text()


def test_helpOneLinePerOption(tmp_path: Path) -> None:
    """
    ``twistd pyhandlers --help`` at 80 columns: every option's help is one
    line (no option's text wraps), --access-log and --logfile are listed
    without -l, and --verbose is there.
    """
    env = dict(childEnvironment(), COLUMNS="80")
    result = subprocess.run(
        twistdCommand("pyhandlers", "--help"), env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    lines = result.stdout.splitlines()
    start = lines.index("Options:")
    end = lines.index("", start)
    options = lines[start + 1 : end]
    assert options and all(re.match(r"^  (-\w, |    )--[\w-]+=?\s+\S", line) for line in options), "\n".join(options)
    assert all(len(line) <= 80 for line in options)
    names = {re.search(r"--([\w-]+)", line).group(1) for line in options}  # type: ignore[union-attr]
    assert {"access-log", "logfile", "verbose", "listen", "stash", "root"} <= names
    assert not any(line.startswith("  -l") for line in options)


def test_twoInstancesInOneFolder(tmp_path: Path) -> None:
    """
    Two servers started from the same folder as the README starts them
    (``--pidfile=``) both run: neither refuses to start over the other's
    ``twistd.pid``.  Without it the second one refuses.
    """
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "a.txt").write_text("a")
    first = TwistdProcess(tmp_path, "--root", "root")
    try:
        second = TwistdProcess(tmp_path, "--root", "root")
        try:
            for server in (first, second):
                with urllib.request.urlopen(server.url("/a.txt"), timeout=30) as answer:
                    assert answer.read() == b"a"
        finally:
            second.stop()
        # The same two without --pidfile=: the pid file of the first stops the second.
        withPid = TwistdProcess(tmp_path, "--root", "root", pidfile="twistd.pid")
        try:
            with pytest.raises(AssertionError, match="Another twistd server is running"):
                TwistdProcess(tmp_path, "--root", "root", pidfile="twistd.pid")
        finally:
            withPid.stop()
    finally:
        first.stop()
