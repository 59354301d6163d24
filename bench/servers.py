"""
Start, watch and stop the servers the bench measures, each as its own
process on a free loopback port.

:class:`ServerProcess` owns one child process: it starts it in a new
session (so the child and anything it forks, such as wptserve's stash
manager, share a process group the bench can end as one), waits until it
answers, reads its resident memory from ``/proc``, and stops it.
:func:`ourServer`, :func:`wptserveServer` and :func:`staticServer` build the
three the bench compares.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Self

#: The repository root (the parent of ``bench/``): on PYTHONPATH for twistd,
#: so the ``pyhandlers`` plugin is found with an editable install too.
REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent


class ServerFailed(Exception):
    """A server exited, or did not answer in time."""


def freePort() -> int:
    """
    A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's
    choice; a tiny race with other programs is accepted).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def getStatus(port: int, path: str, timeout: float = 2.0) -> int:
    """
    GET ``path`` from 127.0.0.1:``port`` and return the status code, reading
    (and discarding) the body.

    :raises OSError: when nothing answers.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def residentBytes(pid: int) -> int:
    """The resident set size (``VmRSS`` of ``/proc/PID/status``) of ``pid``, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                value, unit = line.split()[1:3]
                assert unit == "kB", unit
                return int(value) * 1024
    raise ServerFailed(f"no VmRSS for pid {pid}")


def cpuSeconds(pid: int) -> float:
    """
    The CPU time (user + system, all threads) ``pid`` has used so far, from
    ``/proc/PID/stat``; the bench divides its growth over a run by the
    requests served, a figure that other load on the machine disturbs much
    less than requests per second.
    """
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of proc(5) (utime, stime) are 11 and 12 after the ")".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerProcess:
    """
    One server under test, run as a child process that listens on ``port``.

    All methods run in the bench's main thread, except :meth:`rss`, which
    the memory sampler also calls from its thread.
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        logPath: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.logPath = logPath
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.startedAt = 0.0
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        """The child's process id."""
        if self.process is None:
            raise ServerFailed(f"{self.name} is not running")
        return self.process.pid

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        """Spawn the child (output to :attr:`logPath`, never a pipe that could fill)."""
        self._log = open(self.logPath, "ab")  # noqa: SIM115 (held while the child runs, closed by stop())
        self.startedAt = time.monotonic()
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )

    def waitReady(self, path: str, timeout: float = 30.0, interval: float = 0.01) -> float:
        """
        Poll ``path`` until it answers 200; return the seconds from
        :meth:`start` to that first 200.

        :raises ServerFailed: when the child exits first or ``timeout``
            passes.
        """
        deadline = self.startedAt + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                raise ServerFailed(f"{self.name} exited before answering:\n{self.logTail()}")
            try:
                status = getStatus(self.port, path)
            except OSError:
                status = 0
            now = time.monotonic()
            if status == 200:
                return now - self.startedAt
            if now > deadline:
                raise ServerFailed(
                    f"{self.name} gave no 200 for {path} within {timeout} s (last status {status}):\n{self.logTail()}"
                )
            time.sleep(interval)

    def rss(self) -> int:
        """The child's resident memory in bytes."""
        return residentBytes(self.pid)

    def cpu(self) -> float:
        """The child's CPU seconds so far (see :func:`cpuSeconds`)."""
        return cpuSeconds(self.pid)

    def logTail(self, lines: int = 20) -> str:
        """The last lines the child wrote, for error messages."""
        try:
            text = self.logPath.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 5.0) -> None:
        """
        End the child and its process group: close its stdin, SIGTERM, and
        SIGKILL after ``grace`` seconds.  Safe to call twice.
        """
        process = self.process
        if process is not None:
            if process.stdin is not None:
                try:
                    process.stdin.close()
                except OSError:
                    pass
            _signalGroup(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                _signalGroup(process.pid, signal.SIGKILL)
                process.wait()
            # Whatever the child forked (wptserve's stash manager) goes too.
            _signalGroup(process.pid, signal.SIGKILL)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signalGroup(pgid: int, signum: int) -> None:
    """Send ``signum`` to the process group the bench started as ``pgid``."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _pythonPathEnv() -> dict[str, str]:
    """The environment with the repository first on PYTHONPATH."""
    env = dict(os.environ)
    existing = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + existing if existing else "")
    return env


def ourServer(
    root: Path,
    logPath: Path,
    *,
    port: int | None = None,
    threads: int | None = None,
    python: str = sys.executable,
    options: tuple[str, ...] = (),
) -> ServerProcess:
    """
    ``twistd -n --pidfile= pyhandlers --root ROOT --listen tcp:PORT:interface=127.0.0.1``,
    run by ``python`` (twistd's ``run()``, so no script path is needed),
    with ``options`` (more ``pyhandlers`` options) after them.
    """
    port = freePort() if port is None else port
    argv = [
        python,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        "-n",
        "--pidfile=",
        "pyhandlers",
        "--root",
        str(root),
        "--listen",
        f"tcp:{port}:interface=127.0.0.1",
    ]
    if threads is not None:
        argv += ["--threads", str(threads)]
    argv += list(options)
    return ServerProcess("ours", argv, port, logPath, env=_pythonPathEnv())


def wptserveServer(
    root: Path, logPath: Path, *, port: int | None = None, python: str = sys.executable
) -> ServerProcess:
    """wptserve 4.0.3's ``WebTestHttpd`` with its standard routes (``bench/wptserve_runner.py``)."""
    port = freePort() if port is None else port
    argv = [python, str(BENCH / "wptserve_runner.py"), str(root), "--port", str(port)]
    return ServerProcess("wptserve", argv, port, logPath)


def staticServer(root: Path, logPath: Path, *, port: int | None = None, python: str = sys.executable) -> ServerProcess:
    """Plain twisted.web: ``File(root)`` with ``Data`` children (``bench/static_runner.py``)."""
    port = freePort() if port is None else port
    argv = [
        python,
        str(BENCH / "static_runner.py"),
        str(root),
        "--port",
        str(port),
        "--log",
        str(logPath.with_suffix(".access.log")),
    ]
    return ServerProcess("static", argv, port, logPath, env=_pythonPathEnv())
