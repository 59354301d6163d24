"""
Start, watch and stop the servers the bench measures, each as its own
process on a free loopback port.

:class:`ServerProcess` owns one child process: it starts it in a new
session (so the child and anything it forks, such as wptserve's stash
manager, share a process group the bench can end as one), waits until it
answers, reads its resident memory from ``/proc``, and stops it.
:func:`ourServer`, :func:`wptserveServer` and :func:`staticServer` build the
three the bench compares over plain HTTP/1.1; :func:`ourTLSServer` (one
process with an https and an h2 port) and ``wptserveServer(...,
scheme="https"|"h2")`` (wptserve's own https and h2 servers, one process
each, as ``wpt serve`` runs them) those of the TLS rows.

A process may listen on several ports, one per scheme (``ports``): ``http``
is HTTP/1.1 in the clear, ``https`` HTTP/1.1 over TLS, ``h2`` HTTP/2 over
TLS (ALPN ``h2``).  The certificates are made ones, not checked by the
bench's clients.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
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


#: The URL scheme of each bench scheme.
URL_SCHEMES = {"http": "http", "https": "https", "h2": "https"}


def _unverifiedContext(alpn: str) -> ssl.SSLContext:
    """A TLS client context that offers ``alpn`` and checks no certificate (the bench's are made ones)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols([alpn])
    return context


def getH2Status(port: int, path: str, timeout: float = 2.0) -> int:
    """
    GET ``path`` over HTTP/2 (TLS, ALPN ``h2``) from 127.0.0.1:``port`` and
    return the status code, reading the response to its end.

    :raises OSError: when nothing answers or the stream does not end.
    """
    import h2.config
    import h2.connection
    import h2.events

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with _unverifiedContext("h2").wrap_socket(raw, server_hostname="localhost") as sock:
            connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            connection.initiate_connection()
            headers = [(":method", "GET"), (":scheme", "https"), (":authority", f"127.0.0.1:{port}"), (":path", path)]
            connection.send_headers(1, headers, end_stream=True)
            sock.sendall(connection.data_to_send())
            status = 0
            while True:
                data = sock.recv(65536)
                if not data:
                    raise OSError("connection closed before the stream ended")
                for event in connection.receive_data(data):
                    if isinstance(event, h2.events.ResponseReceived):
                        status = int(dict(event.headers)[b":status"])
                    elif isinstance(event, h2.events.DataReceived):
                        connection.acknowledge_received_data(event.flow_controlled_length, 1)
                    elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                        # GOAWAY before closing: wptserve's h2 connection
                        # thread spins on a connection closed without it.
                        connection.close_connection()
                        sock.sendall(connection.data_to_send())
                        return status
                sock.sendall(connection.data_to_send())


def getStatus(port: int, path: str, timeout: float = 2.0, scheme: str = "http") -> int:
    """
    GET ``path`` from 127.0.0.1:``port`` speaking ``scheme`` and return the
    status code, reading (and discarding) the body.

    :raises OSError: when nothing answers.
    """
    if scheme == "h2":
        return getH2Status(port, path, timeout)
    connection: http.client.HTTPConnection
    if scheme == "https":
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=timeout, context=_unverifiedContext("http/1.1")
        )
    else:
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


def descendants(pid: int) -> list[int]:
    """
    The processes below ``pid`` (children, their children...), from the
    parent field of every ``/proc/PID/stat``: a server with ``--workers``
    does its work in its children.
    """
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


class ServerProcess:
    """
    One server under test, run as a child process that listens on ``port``.

    ``ports`` maps each scheme the process serves to its port (default:
    ``http`` on ``port``); ``port`` is the first of them.

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
        ports: dict[str, int] | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.ports = ports if ports is not None else {"http": port}
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

    def url(self, path: str, scheme: str | None = None) -> str:
        """The absolute URL of ``path`` on this server's ``scheme`` port (default: its first)."""
        scheme = scheme if scheme is not None else next(iter(self.ports))
        return f"{URL_SCHEMES[scheme]}://127.0.0.1:{self.ports[scheme]}{path}"

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
        Poll ``path`` on every port until each answers 200; return the
        seconds from :meth:`start` to the last of those first 200s.

        :raises ServerFailed: when the child exits first or ``timeout``
            passes.
        """
        deadline = self.startedAt + timeout
        waiting = dict(self.ports)
        while True:
            if self.process is None or self.process.poll() is not None:
                raise ServerFailed(f"{self.name} exited before answering:\n{self.logTail()}")
            scheme, port = next(iter(waiting.items()))
            try:
                status = getStatus(port, path, scheme=scheme)
            except OSError:
                status = 0
            now = time.monotonic()
            if status == 200:
                del waiting[scheme]
                if not waiting:
                    return now - self.startedAt
                continue
            if now > deadline:
                raise ServerFailed(
                    f"{self.name} gave no 200 for {path} on its {scheme} port within {timeout} s "
                    f"(last status {status}):\n{self.logTail()}"
                )
            time.sleep(interval)

    def rss(self) -> int:
        """The child's resident memory in bytes."""
        return residentBytes(self.pid)

    def cpu(self) -> float:
        """
        The CPU seconds so far (see :func:`cpuSeconds`) of the child and
        every process below it alive now (its workers).  Bench main thread.
        """
        total = cpuSeconds(self.pid)
        for pid in descendants(self.pid):
            try:
                total += cpuSeconds(pid)
            except OSError:
                pass  # ended meanwhile
        return total

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
    workers: int | str | None = None,
    accessLog: Path | None = None,
    python: str = sys.executable,
    options: tuple[str, ...] = (),
) -> ServerProcess:
    """
    ``twistd -n --pidfile= pyhandlers --root ROOT --listen tcp:PORT:interface=127.0.0.1``,
    run by ``python`` (twistd's ``run()``, so no script path is needed),
    with ``--workers`` and ``--access-log`` when given and ``options``
    (more ``pyhandlers`` options) after them.
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
    if workers is not None:
        argv += ["--workers", str(workers)]
    if accessLog is not None:
        argv += ["--access-log", str(accessLog)]
    argv += list(options)
    return ServerProcess("ours", argv, port, logPath, env=_pythonPathEnv())


def ourTLSServer(
    root: Path,
    logPath: Path,
    tlsDir: Path,
    *,
    threads: int | None = None,
    python: str = sys.executable,
    plain: bool = False,
) -> ServerProcess:
    """
    ``twistd -n --pidfile= pyhandlers --root ROOT --tls-dir DIR --listen
    https=tcp:PORT:interface=127.0.0.1 --listen h2=tcp:PORT:interface=127.0.0.1``:
    our server's https and h2 ports in one process, with the made
    certificate; with ``plain``, a plain http port in the same process too.
    """
    ports = {"https": freePort(), "h2": freePort()}
    if plain:
        ports["http"] = freePort()
    argv = [
        python,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        "-n",
        "--pidfile=",
        "pyhandlers",
        "--root",
        str(root),
        "--tls-dir",
        str(tlsDir),
    ]
    for scheme, port in ports.items():
        argv += ["--listen", f"{scheme}=tcp:{port}:interface=127.0.0.1"]
    if threads is not None:
        argv += ["--threads", str(threads)]
    return ServerProcess("ours", argv, ports["https"], logPath, env=_pythonPathEnv(), ports=ports)


def wptserveServer(
    root: Path,
    logPath: Path,
    *,
    port: int | None = None,
    python: str = sys.executable,
    scheme: str = "http",
    tlsDir: Path | None = None,
) -> ServerProcess:
    """
    wptserve 4.0.3's ``WebTestHttpd`` with its standard routes
    (``bench/wptserve_runner.py``); ``scheme`` ``https`` or ``h2`` is
    wptserve's own server for that port, with a certificate made in
    ``tlsDir``.
    """
    port = freePort() if port is None else port
    argv = [python, str(BENCH / "wptserve_runner.py"), str(root), "--port", str(port)]
    if scheme != "http":
        if tlsDir is None:
            raise ValueError(f"wptserve's {scheme} server needs a tlsDir")
        argv += ["--scheme", scheme, "--tls-dir", str(tlsDir)]
    # The TLS runner imports our certificate code; the plain one nothing of ours.
    env = _pythonPathEnv() if scheme != "http" else None
    return ServerProcess("wptserve", argv, port, logPath, env=env, ports={scheme: port})


def staticServer(
    root: Path,
    logPath: Path,
    *,
    port: int | None = None,
    accessLog: Path | None = None,
    python: str = sys.executable,
) -> ServerProcess:
    """
    Plain twisted.web: ``File(root)`` with ``Data`` children
    (``bench/static_runner.py``), writing an access log to ``accessLog``
    only when given.
    """
    port = freePort() if port is None else port
    argv = [python, str(BENCH / "static_runner.py"), str(root), "--port", str(port)]
    if accessLog is not None:
        argv += ["--log", str(accessLog)]
    return ServerProcess("static", argv, port, logPath, env=_pythonPathEnv())
