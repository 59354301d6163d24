"""
``--workers N``: real ``twistd pyhandlers`` supervisors with two real worker
processes sharing one port and one stash, and what happens when a worker
dies or the supervisor is stopped.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator, List, Set, Tuple

import pytest

from tests.serving import HandlerRoot, TwistdProcess
from twisted_pyhandlers._workers import parseWorkers, workerArguments

#: A key for the counter the lock test increments.
COUNTER = str(uuid.UUID(int=1))

_STARTED = re.compile(r"worker (\d+) started: pid (\d+)")


def get(port: int, path: str) -> Tuple[int, str]:
    """GET ``path`` on a new connection (so the kernel may pick either worker)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def startedWorkers(server: TwistdProcess) -> List[Tuple[int, int]]:
    """``(index, pid)`` of every worker the supervisor logged as started, in order."""
    return [(int(index), int(pid)) for index, pid in _STARTED.findall(server.text())]


def waitFor(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie no one reaped yet is not alive either.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def root(tmp_path: Path) -> HandlerRoot:
    handlers = HandlerRoot(tmp_path / "root")
    handlers.write("pid.py", """
        import os

        def main(request, response):
            return str(os.getpid())
    """)
    handlers.write("count.py", f"""
        import os, time

        def main(request, response):
            stash = request.server.stash
            with stash.lock:
                value = stash.take("{COUNTER}", "/count") or 0
                time.sleep(0.01)  # a read-modify-write the lock must protect
                stash.put("{COUNTER}", value + 1, "/count")
            return "%d %d" % (os.getpid(), value + 1)
    """)
    handlers.write("put.py", """
        def main(request, response):
            request.server.stash.put(request.GET.first(b"key").decode(), "the token", "/token")
            return "put"
    """)
    handlers.write("take.py", """
        import os

        def main(request, response):
            value = request.server.stash.take(request.GET.first(b"key").decode(), "/token")
            return "%d %s" % (os.getpid(), value)
    """)
    handlers.write("port.py", """
        def main(request, response):
            return str(request.server.config["ports"]["http"])
    """)
    return handlers


@pytest.fixture
def twoWorkers(root: HandlerRoot, tmp_path: Path) -> Iterator[TwistdProcess]:
    server = TwistdProcess(tmp_path, "--root", str(root.path), "--workers", "2")
    try:
        waitFor(lambda: len(startedWorkers(server)) == 2)
        # Both workers accept once both have started: until then the first
        # one up takes every connection.
        workers = {pid for _, pid in startedWorkers(server)}
        waitFor(lambda: pidsAnswering(server, 40) == workers)
        yield server
    finally:
        server.stop()


def pidsAnswering(server: TwistdProcess, tries: int = 200) -> Set[int]:
    """The worker pids seen answering ``/pid.py`` over ``tries`` new connections, 8 at a time."""
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: get(server.port, "/pid.py"), range(tries)))
    assert all(status == 200 for status, _ in answers)
    return {int(body) for _, body in answers}


def test_twoWorkersShareThePortAndTheConfig(twoWorkers: TwistdProcess) -> None:
    """
    Both workers answer on the one port (the kernel spreads new
    connections), neither is the supervisor, and each one's config names
    the port really listened on (the system chose it).
    """
    workers = {pid for _, pid in startedWorkers(twoWorkers)}
    seen = pidsAnswering(twoWorkers)
    assert seen <= workers and len(workers) == 2
    assert twoWorkers.process.pid not in seen
    ports = {get(twoWorkers.port, "/port.py")[1] for _ in range(20)}
    assert ports == {f"[{twoWorkers.port}]"} or ports == {str(twoWorkers.port)}


def test_stashLockExcludesAcrossWorkers(twoWorkers: TwistdProcess) -> None:
    """
    60 read-modify-write increments under ``stash.lock``, 8 at a time, on
    both workers: none is lost (the lock excludes across processes and the
    stash is one), and both workers did some.
    """
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: get(twoWorkers.port, "/count.py"), range(60)))
    assert all(status == 200 for status, _ in answers), answers
    values = sorted(int(body.split()[1]) for _, body in answers)
    assert values == list(range(1, 61))
    assert len({body.split()[0] for _, body in answers}) == 2


def test_aValueIsTakenOnceAcrossWorkers(twoWorkers: TwistdProcess) -> None:
    """
    A value put through one worker is taken exactly once by 24 racing
    takes spread over both workers: no double take, no lost value.
    """
    for _ in range(5):
        key = str(uuid.uuid4())
        assert get(twoWorkers.port, f"/put.py?key={key}") == (200, "put")
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(get, [twoWorkers.port] * 24, [f"/take.py?key={key}"] * 24))
        taken = [body for _, body in answers if body.endswith("the token")]
        assert len(taken) == 1, answers
        assert len({body.split()[0] for _, body in answers}) == 2


def test_aDeadWorkerIsReplacedWhileTheOtherServes(twoWorkers: TwistdProcess) -> None:
    """
    SIGKILL one worker: requests go on being answered (by the other),
    a new worker is started in its place and answers too; SIGTERM to the
    supervisor then ends every worker and the supervisor itself.
    """
    (index, victim), (_, survivor) = startedWorkers(twoWorkers)
    os.kill(victim, signal.SIGKILL)
    waitFor(lambda: not alive(victim))
    for _ in range(20):
        assert get(twoWorkers.port, "/pid.py") == (200, str(survivor))
    waitFor(lambda: len(startedWorkers(twoWorkers)) == 3)
    newIndex, replacement = startedWorkers(twoWorkers)[2]
    assert newIndex == index and replacement not in (victim, survivor)
    waitFor(lambda: pidsAnswering(twoWorkers, 40) == {survivor, replacement})
    assert "worker %d ended" % index in twoWorkers.text()
    # twistd ends by re-raising the SIGTERM once it has shut down cleanly.
    assert twoWorkers.stop() == -signal.SIGTERM
    assert "Received SIGTERM, shutting down." in twoWorkers.text()
    waitFor(lambda: not alive(survivor) and not alive(replacement), timeout=20)


def test_workersOptionValues() -> None:
    """``--workers`` takes a positive number or ``auto`` (the CPUs this process may use); anything else is refused by name."""
    assert parseWorkers("3") == 3
    assert parseWorkers("auto") == len(os.sched_getaffinity(0))
    for bad in ("0", "-1", "many"):
        with pytest.raises(ValueError, match="--workers"):
            parseWorkers(bad)


def test_workerArgumentsDropWhatTheSupervisorDecides() -> None:
    """A worker gets its supervisor's options less --workers and --stash, in either spelling."""
    given = ["--root", "r", "--workers", "2", "--stash=memory:", "--listen", "tcp:0", "--workers=3", "--stash", "x"]
    assert workerArguments(given) == ["--root", "r", "--listen", "tcp:0"]


@pytest.mark.parametrize(
    "arguments, line",
    [
        (["--workers", "0"], "twistd pyhandlers: --workers must be at least 1"),
        (["--workers", "many"], "twistd pyhandlers: --workers must be a number of processes or 'auto', not 'many'"),
        (
            ["--workers", "2", "--listen", "ssl:0:privateKey=own.test.key:certKey=own.test.pem"],
            "twistd pyhandlers: --workers: ssl:0:privateKey=own.test.key:certKey=own.test.pem makes its own TLS context, which a worker "
            "cannot adopt; use https=tcp:PORT (the server's certificate) or --tls-cert/--tls-key",
        ),
    ],
)
def test_badWorkersValueIsOneLine(tmp_path: Path, arguments: List[str], line: str) -> None:
    """A --workers value that cannot be served is one plain line on standard error and exit status 1."""
    from tests.selfsigned import writeSelfSigned
    from tests.serving import childEnvironment, twistdCommand

    (tmp_path / "root").mkdir()
    writeSelfSigned(tmp_path)
    result = subprocess.run(
        twistdCommand("-n", "--pidfile=", "pyhandlers", "--root", "root", *arguments),
        env=childEnvironment(), cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [line], result.stderr
