"""
Fixtures for the differential suite: wptserve 4.0.3 and our server, each in
its own process, serving the same document root.

Both fixtures are session-scoped factories, so other suites (the static-file
side, with its own document root) can reuse them::

    def test_something(wptserve_server, our_server):
        theirs = wptserve_server("/path/to/root")   # "http://127.0.0.1:PORT"
        ours = our_server("/path/to/root")

Calling a factory twice with the same root returns the same server.  Every
server is stopped (stdin closed, then killed if it lingers) when the session
ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .harness import Harness

HERE = Path(__file__).parent
ROOT = HERE / "root"
STARTUP_TIMEOUT = 30.0


class ServerProcess:
    """
    A server subprocess that announces ``PORT <n>`` on stdout once it
    listens.

    :param argv: The command line.
    :param logPath: Where the child's stderr goes (shown if it fails).
    :param scheme: The scheme of :attr:`baseURL` (``https`` for the h2
        servers).
    """

    def __init__(self, argv: list[str], logPath: Path, scheme: str = "http") -> None:
        self.logPath = logPath
        self.scheme = scheme
        # Open for the life of the child process, closed in stop().
        self._log = open(logPath, "wb")  # noqa: SIM115
        env = dict(os.environ)
        # The child must import this checkout and the differential package.
        env["PYTHONPATH"] = os.pathsep.join(
            [str(HERE.parent.parent)] + [p for p in [env.get("PYTHONPATH")] if p]
        )
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=str(logPath.parent),
        )
        self.port = self._waitForPort()

    def _waitForPort(self) -> int:
        """
        Read stdout until the port line; fail with the child's log if it
        exits or stays silent.

        Runs in the pytest thread; a helper thread does the blocking read so
        that a hung child cannot hang the session.
        """
        found: list[bytes] = []
        assert self.process.stdout is not None
        stdout = self.process.stdout

        def readLine() -> None:
            found.append(stdout.readline())

        reader = threading.Thread(target=readLine, daemon=True)
        reader.start()
        reader.join(STARTUP_TIMEOUT)
        line = found[0] if found else b""
        if not line.startswith(b"PORT "):
            self.stop()
            raise RuntimeError(
                f"server {self.process.args!r} did not start (said {line!r}); "
                f"its log:\n{self.logPath.read_text(errors='replace')[-4000:]}"
            )
        return int(line.split()[1])

    @property
    def baseURL(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """
        Close the child's stdin (its signal to stop) and reap it, killing it
        if it does not go in time.
        """
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


def _serverFactory(
    script: str, logDir: Path
) -> tuple[Callable[..., str], list[ServerProcess]]:
    started: dict[str, ServerProcess] = {}
    processes: list[ServerProcess] = []

    def start(
        root: str | os.PathLike[str], config: str | os.PathLike[str] | None = None, h2: bool = False
    ) -> str:
        key = os.path.abspath(root) + ("" if config is None else "|" + os.path.abspath(config))
        key += "|h2" if h2 else ""
        if key not in started:
            name = f"{Path(script).stem}-{len(started)}"
            command = [sys.executable, str(HERE / script), os.path.abspath(root)]
            if config is not None:
                command += ["--config", os.path.abspath(config)]
            if h2:
                # Each h2 server makes its certificate in its own directory.
                command += ["--h2", str(logDir / f"{name}-tls")]
            server = ServerProcess(command, logDir / f"{name}.log", scheme="https" if h2 else "http")
            started[key] = server
            processes.append(server)
        return started[key].baseURL

    return start, processes


@pytest.fixture(scope="session")
def wptserve_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., str]]:
    """
    Factory: ``wptserve_server(root, config=None, h2=False)`` starts (once
    per root, config and protocol) a real wptserve 4.0.3 on 127.0.0.1
    serving ``root``, with the wptserve-style JSON ``config`` file if
    given, and returns its base URL.  ``h2=True``: wptserve's own HTTP/2
    server, over TLS with a made certificate (base URL ``https://``).
    """
    start, processes = _serverFactory(
        "wptserve_runner.py", tmp_path_factory.mktemp("wptserve")
    )
    yield start
    for server in processes:
        server.stop()


@pytest.fixture(scope="session")
def our_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., str]]:
    """
    Factory: ``our_server(root, config=None, h2=False)`` starts (once per
    root, config and protocol) twisted_pyhandlers' ``HandlerDirectory(root)``
    on 127.0.0.1, with ``ServerConfig.fromFile(config)`` if given, and
    returns its base URL.  ``h2=True``: the h2 scheme's Site (HTTP/2 only)
    over TLS with a made certificate (base URL ``https://``).
    """
    start, processes = _serverFactory("ours_runner.py", tmp_path_factory.mktemp("ours"))
    yield start
    for server in processes:
        server.stop()


@pytest.fixture(scope="session")
def harness(
    wptserve_server: Callable[..., str],
    our_server: Callable[..., str],
) -> Harness:
    """
    Both servers on this suite's document root, ready to compare.
    """
    return Harness(wptserve_server(ROOT), our_server(ROOT))


@pytest.fixture(scope="session")
def theirs_only(
    wptserve_server: Callable[..., str],
) -> str:
    """
    wptserve's base URL for this suite's root, for sanity checks of the
    handler files themselves (they must give a sane answer there).
    """
    return wptserve_server(ROOT)
