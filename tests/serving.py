"""
Helpers shared by the test modules (fixtures live in ``conftest.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, List, Mapping, Optional, Tuple

from twisted.web.resource import IResource

#: The ``serve`` fixture: ``serve(resource) -> "http://127.0.0.1:PORT"``.
Serve = Callable[[IResource], str]


class HandlerRoot:
    """A temporary document root that tests write handler files into."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, relative: str, source: str) -> Path:
        """Write ``source`` (dedented) to ``relative`` under the root."""
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source))
        return target


REPO = Path(__file__).resolve().parent.parent


def twistdCommand(*arguments: str) -> list:
    """The command line that runs ``twistd ARGUMENTS`` with this Python."""
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", *arguments]


def childEnvironment() -> dict:
    """The checkout on the path, so the plugin in twisted/plugins/ is found."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


class TwistdProcess:
    """
    A real ``twistd -n pyhandlers`` process on a system-chosen loopback
    port, its twistd log in ``log``.

    :param directory: the working directory (and where the log is kept).
    :param arguments: ``pyhandlers`` options, besides ``--listen``.
    :param pidfile: twistd's ``--pidfile`` value ("" for none).
    """

    _LISTENING = re.compile(r"listening on IPv4Address\(type='TCP', host='127\.0\.0\.1', port=(\d+)\)")

    def __init__(self, directory: Path, *arguments: str, pidfile: str = "") -> None:
        self.directory = directory
        self.log = directory / f"twistd-{time.monotonic_ns()}.log"
        self.process = subprocess.Popen(
            twistdCommand(
                "-n", f"--pidfile={pidfile}", "--logfile", str(self.log), "pyhandlers", "--keep-malloc-defaults",
                "--listen", "tcp:0:interface=127.0.0.1", *arguments,
            ),
            env=childEnvironment(),
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.port = self._waitForPort()

    def text(self) -> str:
        """The twistd log so far."""
        return self.log.read_text() if self.log.exists() else ""

    def _waitForPort(self) -> int:
        deadline = time.monotonic() + 60
        while True:
            found = self._LISTENING.findall(self.text())
            if found:
                return int(found[0])
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise AssertionError(f"twistd ended ({self.process.returncode}): {output}\n{self.text()}")
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.05)

    def url(self, path: str) -> str:
        """``http://127.0.0.1:PORT`` + ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> int:
        """Stop it (SIGTERM) and return its exit status."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()


class TopologyProcess:
    """
    A ``twistd -n pyhandlers`` process; :meth:`start` returns once its log
    lists the origins it serves.
    """

    _ORIGIN = re.compile(r"serving (https?|wss?)://([^:]+):(\d+) \(([\w-]+)\)")
    _PIN = re.compile(r"spki pin: (\S+)")

    def __init__(self, tmp: Path, *arguments: str) -> None:
        self.tmp = tmp
        self.arguments = arguments
        self.log = tmp / f"twistd-{time.monotonic_ns()}.log"
        self.process: Optional[subprocess.Popen[bytes]] = None

    def start(self, origins: int) -> "TopologyProcess":
        """Start, and wait until ``origins`` origins are listed."""
        self.process = subprocess.Popen(
            twistdCommand("-n", "--pidfile=", "--logfile", str(self.log), "pyhandlers", "--keep-malloc-defaults", *self.arguments),
            env=childEnvironment(), cwd=self.tmp, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while len(self.origins()) < origins:
            assert self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.05)
        return self

    def text(self) -> str:
        """The log so far."""
        return self.log.read_text() if self.log.exists() else ""

    def origins(self) -> List[Tuple[str, str, int, str]]:
        """(url scheme, host, port, config scheme) of each origin listed."""
        return [(m[0], m[1], int(m[2]), m[3]) for m in self._ORIGIN.findall(self.text())]

    def ports(self, scheme: str) -> List[int]:
        """The ports listed for a config scheme."""
        return [port for _, _, port, s in self.origins() if s == scheme]

    def pin(self) -> str:
        """The logged ``spki pin:``."""
        match = self._PIN.search(self.text())
        assert match, self.text()
        return match.group(1)

    def stop(self) -> None:
        """Stop the process."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


#: A root of one handler answering ``hello``: for tests of what a client may
#: do to a connection, where what the handler does hardly matters.
HELLO = {"hello.py": """
    def main(request, response):
        return b"hello"
"""}


@contextmanager
def h2Process(tmp: Path, handlers: Mapping[str, str], *options: str) -> Iterator[TopologyProcess]:
    """
    A twistd process with one h2 port (a made certificate in ``tmp/tls``)
    over a root holding ``handlers`` (file name to source, dedented), with
    ``options`` added; ``process.root`` names the root.  Before it stops,
    ``release.flag`` is written in the root, for handlers that wait on it.
    """
    root = tmp / "root"
    root.mkdir()
    for name, source in handlers.items():
        (root / name).write_text(textwrap.dedent(source))
    process = TopologyProcess(
        tmp, "--root", str(root), "--listen", "h2=tcp:0:interface=127.0.0.1", "--tls-dir", "tls", *options
    )
    process.start(origins=1)
    process.root = root  # type: ignore[attr-defined]
    try:
        yield process
    finally:
        (root / "release.flag").write_text("")
        process.stop()
