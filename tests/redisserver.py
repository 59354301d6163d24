"""
A real ``redis-server`` for tests: started on a free loopback port with no
persistence, stopped and started again on the same port (to test recovery),
killed at the end.

Readiness is the server's own "Ready to accept connections" log line, read
from its output, not a sleep.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from typing import List, Optional

import pytest

__all__ = ["RedisServer", "freePort", "redisServerBinary", "requireRedisServer"]


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
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "no",
                "--loglevel", "notice",
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
                f"redis-server on port {self.port} did not start:\n" + "\n".join(self.log)
            )
        self.process = process

    def stop(self) -> None:
        """Kill the server (as a crash would) and wait until it is gone."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self.process = None
