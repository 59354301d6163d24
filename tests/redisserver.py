"""
Real processes for tests: a ``redis-server`` started on a free loopback port
with no persistence (stopped and started again on the same port to test
recovery), and ``pyhandlers`` server processes that share it.

Readiness is each server's own log line ("Ready to accept connections",
"listening on ... port=N"), read from its output, not a sleep.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from typing import List, Optional, Tuple

import pytest

__all__ = [
    "PyhandlersProcess",
    "RedisServer",
    "freePort",
    "redisServerBinary",
    "requireRedisServer",
]


def redisServerBinary() -> Optional[str]:
    """The path of the ``redis-server`` binary, or None."""
    return shutil.which("redis-server")


def requireRedisServer() -> str:
    """
    The ``redis-server`` binary; skips the calling test, saying why, when
    it is not installed.
    """
    binary = redisServerBinary()
    if binary is None:
        pytest.skip(
            "redis-server is not installed (apt-get install redis-server, "
            "as .ci/run does): the Redis stash tests need a real server"
        )
    return binary


def freePort() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """
    One ``redis-server`` process on 127.0.0.1.

    :ivar port: the port it listens on (kept across :meth:`stop` /
        :meth:`start`, so a client sees the same URL come back).
    """

    def __init__(self, binary: str, port: Optional[int] = None) -> None:
        self.binary = binary
        self.port = port if port is not None else freePort()
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.log: List[str] = []

    def url(self, db: int = 0) -> str:
        """The ``redis://`` URL of database ``db``."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 30.0) -> None:
        """
        Start the server and return once it accepts connections.

        :raises RuntimeError: with its output, if it exits or is not ready
            within ``timeout`` seconds.
        """
        assert self.process is None, "already running"
        process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--protected-mode",
                "no",
                "--loglevel",
                "notice",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        ready = threading.Event()

        def readOutput() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                text = line.decode("utf-8", "replace").rstrip()
                self.log.append(text)
                if "Ready to accept connections" in text:
                    ready.set()
            ready.set()  # exited: stop waiting

        threading.Thread(target=readOutput, daemon=True).start()
        if not ready.wait(timeout) or process.poll() is not None:
            process.kill()
            process.wait()
            raise RuntimeError(
                f"redis-server on port {self.port} did not start:\n"
                + "\n".join(self.log)
            )
        self.process = process

    def stop(self) -> None:
        """Kill the server (as a crash would) and wait until it is gone."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self.process = None


class PyhandlersProcess:
    """
    A real ``python -m twisted pyhandlers`` server process, for the tests
    that need several processes (sharing one Redis stash) or the command
    line itself.  It listens on a port the system chooses; :attr:`port` is
    read from the server's own "listening on" log line.
    """

    _LISTENING = re.compile(r"twisted_pyhandlers listening on .*port=(\d+)")

    def __init__(self, root: str, *arguments: str) -> None:
        self.root = root
        self.arguments = arguments
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.port: Optional[int] = None
        self.log: List[str] = []

    def start(self, timeout: float = 60.0) -> None:
        """
        Start the server and return once it listens.

        :raises RuntimeError: with its output, if it exits or does not
            listen within ``timeout`` seconds.
        """
        import twisted_pyhandlers

        # The repository root holds twisted/plugins/pyhandlers.py; putting
        # it on the path makes the plugin visible however the package was
        # installed.
        repo = os.path.dirname(
            os.path.dirname(os.path.abspath(twisted_pyhandlers.__file__))
        )
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, env.get("PYTHONPATH")]))
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "twisted",
                "--log-format",
                "text",
                "pyhandlers",
                "--root",
                self.root,
                "--listen",
                "tcp:0:interface=127.0.0.1",
                *self.arguments,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.root,
        )
        listening = threading.Event()

        def readOutput() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                text = line.decode("utf-8", "replace").rstrip()
                self.log.append(text)
                match = self._LISTENING.search(text)
                if match and self.port is None:
                    self.port = int(match.group(1))
                    listening.set()
            listening.set()  # exited: stop waiting

        threading.Thread(target=readOutput, daemon=True).start()
        self.process = process
        if not listening.wait(timeout) or self.port is None:
            self.stop()
            raise RuntimeError(
                "pyhandlers server did not start:\n" + "\n".join(self.log)
            )

    def url(self, path: str) -> str:
        """The URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> Tuple[int, bytes]:
        """GET ``path`` (blocking); return the status and body, errors included."""
        try:
            with urllib.request.urlopen(self.url(path), timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
