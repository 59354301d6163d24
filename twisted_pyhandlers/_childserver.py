"""
A server for tests, in a child process: both sides of it.

The parent side, :class:`ChildServer`, is what the ``pyhandlers`` pytest
fixture hands a test that asks for ``process=True`` (by default a test's
server runs in the test's own process: :mod:`twisted_pyhandlers._inprocess`):
it starts ``python -m twisted_pyhandlers._childserver``
on a document root, waits for the child to say which port it listens on, and
reads back what the child recorded.  The child side, :func:`main`, is a
``twistd pyhandlers`` in all but the process management: it takes the same
options (parsed by :class:`twisted_pyhandlers.tap.Options`), and adds one,
``--requests FILE``, to which it appends one JSON line per request received.

Why a child process, when a test asks for one: a handler that hangs or
crashes the process cannot take pytest down with it, and the server is a
real ``twistd pyhandlers`` (its own reactor, the global one).  What it
cannot have is what lives in the test's process: handler functions
written in the test, expectations, and handler errors failing the test.

What crosses the process boundary, and how:

- **start-up**: the child prints one JSON line on its standard output once
  every endpoint listens (the ports and the config handlers see), or exits
  non-zero; its log goes to a file that the parent shows when start-up
  fails;
- **stop**: the parent closes the child's standard input; the child stops its
  reactor when it sees end-of-file, so it never outlives pytest;
- **the stash**: a :class:`~twisted_pyhandlers.managerstash.StashHost` in
  the pytest process, reached through a ``manager://`` stash URL;
- **requests**: the child appends a JSON line per request to a file, on the
  reactor thread, before the request is handed to its resource, so a
  request whose response the client has seen is in the file.  A file needs
  no server, no connection and no polling, and survives the child.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urljoin

from twisted_pyhandlers._interfaces import IHandlerRequest
from twisted_pyhandlers.stash import Stash, StashLock, StashStore

#: Seconds a child may take to listen before start-up counts as failed.
START_TIMEOUT = 30.0

#: Seconds a child may take to exit once asked, before it is killed.
STOP_TIMEOUT = 10.0


#: The variable that hands the child its stash URL (which may hold a key).
STASH_ENVIRONMENT = "TWISTED_PYHANDLERS_TEST_STASH"


class ServerStartError(Exception):
    """The child server did not start; the message carries its log."""


@dataclass(frozen=True)
class RecordedRequest:
    """
    One request the server received.

    :ivar method: ``"GET"``, ``"POST"``, ...
    :ivar path: the path as sent (still percent-encoded), without the query.
    :ivar query: the query string as sent, without the ``?`` (``""`` if none).
    :ivar headers: ``(name, value)`` pairs, ISO-8859-1 decoded; see
        :func:`recordedHeaders` for the order and case they keep.
    :ivar body: the request body.
    """

    method: str
    path: str
    query: str
    headers: List[Tuple[str, str]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        """The value of the first header called ``name`` (any case), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @classmethod
    def fromJSON(cls, line: str) -> RecordedRequest:
        """Parse one line of the requests file."""
        data = json.loads(line)
        return cls(
            method=data["method"],
            path=data["path"],
            query=data["query"],
            headers=[(name, value) for name, value in data["headers"]],
            body=base64.b64decode(data["body"]),
        )


class ServerStash:
    """
    ``server.stash`` for a test: the stash the server's handlers see, with
    the same key rules, but no request to take a default path from, so every
    call names the ``path`` (a handler's default: its URL path, such as
    ``"/resources/stash.py"``).  Calls block on a local socket.
    """

    def __init__(self, store: StashStore) -> None:
        self.store = store

    def put(self, key: Union[str, bytes], value: object, path: Union[str, bytes]) -> None:
        """
        Put ``value`` under ``key`` for the handler at ``path``.

        :raises ValueError: if ``value`` is None or ``key`` is not a UUID.
        :raises StashError: if an entry exists already.
        """
        Stash(self.store, path).put(key, value)

    def take(self, key: Union[str, bytes], path: Union[str, bytes]) -> Optional[object]:
        """Remove and return what is stored under ``key`` for ``path``, or None."""
        return Stash(self.store, path).take(key)

    @property
    def lock(self) -> StashLock:
        """The lock the server's handlers see as ``stash.lock``."""
        return self.store.lock


class ChildServer:
    """
    A ``twisted_pyhandlers`` server on ``root`` in a child process,
    listening on a free loopback port.  Every method runs in the test's
    thread and blocks (briefly).

    :param root: the document root.
    :param workdir: an empty directory for the child's log and records.
    :param stashURL: a stash URL the test process can open too.
    :param config: a wptserve-style config: a JSON file's path, or a mapping
        (written to ``workdir``).
    :param host: the host name handlers see (``browser_host``).
    :param tls: serve HTTPS (HTTP/1.1 only) with a certificate made for
        the config's hosts, localhost and 127.0.0.1, signed by a CA made in
        ``workdir`` (see :attr:`ca`).

    :ivar port: the port it listens on (once started).
    :ivar ca: with ``tls``, the made CA's PEM file, for a client's
        ``verify=``; None otherwise.
    :ivar spkiPin: with ``tls``, the server key's SPKI pin (for Chromium's
        ``--ignore-certificate-errors-spki-list``); None otherwise.
    :ivar config: the config its handlers see, read-only (once started).
    """

    def __init__(
        self,
        root: Union[str, os.PathLike[str]],
        workdir: Path,
        *,
        stashURL: str,
        config: Union[str, os.PathLike[str], Mapping[str, Any], None] = None,
        host: Optional[str] = None,
        tls: bool = False,
    ) -> None:
        self.root = Path(root)
        self.tls = tls
        self.ca: Optional[str] = None
        self.spkiPin: Optional[str] = None
        self.workdir = workdir
        self.stashURL = stashURL
        self.host = host
        self._configArgument = config
        self.logPath = workdir / "server.log"
        self.requestsPath = workdir / "requests.jsonl"
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._stash: Optional[ServerStash] = None
        self.port = 0
        self.config: Mapping[str, Any] = MappingProxyType({})

    def command(self) -> List[str]:
        """The child's command line."""
        command = [
            sys.executable, "-m", "twisted_pyhandlers._childserver",
            "--root", os.fspath(self.root),
            "--listen", "tcp:0:interface=127.0.0.1",
            "--requests", os.fspath(self.requestsPath),
            "--threads", "32",
            "--keep-malloc-defaults",
        ]
        config = self._configArgument
        if isinstance(config, Mapping):
            path = self.workdir / "config.json"
            path.write_text(json.dumps(dict(config)), encoding="utf-8")
            config = path
        if config is not None:
            command += ["--config", os.fspath(config)]
        if self.host is not None:
            command += ["--host", self.host]
        if self.tls:
            command[command.index("--listen") + 1] = "https=tcp:0:interface=127.0.0.1"
            command += ["--tls-dir", os.fspath(self.workdir / "tls")]
        return command

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """
        Start the child and wait until it listens.

        :raises ServerStartError: with the child's log, if it exits or stays
            silent for ``timeout`` seconds.
        """
        self.requestsPath.write_bytes(b"")
        env = dict(os.environ)
        # The child imports this very copy of the package.
        here = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join([here] + [p for p in [env.get("PYTHONPATH")] if p])
        # Not on the command line, where any local user could read the key.
        env[STASH_ENVIRONMENT] = self.stashURL
        with open(self.logPath, "wb") as log:
            self._process = subprocess.Popen(
                self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env
            )
        line = self._readyLine(timeout)
        ready = json.loads(line)
        self.port = ready["port"]
        self.config = MappingProxyType(ready["config"])
        self.ca = ready.get("ca")
        self.spkiPin = ready.get("spkiPin")

    def _readyLine(self, timeout: float) -> str:
        process = self._process
        assert process is not None and process.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.stop()
                    raise ServerStartError(self._failure(f"did not listen within {timeout:g} seconds"))
                if selector.select(remaining):
                    line = process.stdout.readline()
                    if line.startswith(b"{"):
                        return line.decode("utf-8")
                    if not line:
                        process.wait()
                        raise ServerStartError(self._failure(f"exited with status {process.returncode}"))

    def _failure(self, what: str) -> str:
        return (
            f"twisted_pyhandlers test server for {os.fspath(self.root)!r} {what} before listening.\n"
            f"Command: {' '.join(self.command())}\n"
            f"Its log:\n{self.log or '(empty)'}"
        )

    @property
    def log(self) -> str:
        """What the child has logged so far (handler tracebacks included)."""
        try:
            return self.logPath.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/`` (``https://`` with ``tls``)."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/"

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` (relative to the root) on this server."""
        return urljoin(self.base_url, path.lstrip("/"))

    @property
    def stash(self) -> ServerStash:
        """The stash the server's handlers see (see :class:`ServerStash`)."""
        if self._stash is None:
            from twisted_pyhandlers._stashurl import stashStoreFromURL

            self._stash = ServerStash(stashStoreFromURL(self.stashURL))
        return self._stash

    @property
    def requests(self) -> List[RecordedRequest]:
        """Every request received so far, in the order received."""
        data = self.requestsPath.read_text(encoding="utf-8")
        return [RecordedRequest.fromJSON(line) for line in data.splitlines(keepends=True) if line.endswith("\n")]

    def stop(self) -> None:
        """Ask the child to stop (end of its standard input); kill it if it lingers."""
        process = self._process
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self._process = None


# -- the child side -------------------------------------------------------------


def recordedHeaders(request: Any) -> List[Tuple[str, str]]:
    """
    The headers of a request as ``(name, value)`` str pairs: one per field
    line, in the order and name case the client sent them, as
    :class:`~twisted_pyhandlers._h11protocol.HandlerChannel` recorded them; for a
    request that did not come through that channel, Twisted's parsed
    headers (canonical names, grouped by name).  Reactor thread.
    """
    received = request.receivedHeaders if IHandlerRequest.providedBy(request) else None
    if received is not None:
        pairs = list(received)
    else:
        pairs = [(name, value) for name, values in request.requestHeaders.getAllRawHeaders() for value in values]
    return [(name.decode("iso-8859-1"), value.decode("iso-8859-1")) for name, value in pairs]


def recordTo(records: IO[str]) -> Callable[[Any], None]:
    """
    What records each request in ``records``, one JSON line per request
    (method, path, query, headers as :func:`recordedHeaders` gives them,
    base64 body), flushed at once.  The line is written on the reactor
    thread before the request is routed.
    """

    def record(request: Any) -> None:
        content = request.content
        body = b""
        if content is not None:
            content.seek(0)
            body = content.read()
            content.seek(0)
        path, _, query = request.uri.partition(b"?")
        line = {
            "method": request.method.decode("iso-8859-1"),
            "path": path.decode("iso-8859-1"),
            "query": query.decode("iso-8859-1"),
            "headers": recordedHeaders(request),
            "body": base64.b64encode(body).decode("ascii"),
        }
        records.write(json.dumps(line) + "\n")
        records.flush()

    return record


def main(argv: Optional[Sequence[str]] = None) -> None:
    """
    The child: serve ``--root`` as ``twistd pyhandlers`` would (the server
    is assembled by :func:`~twisted_pyhandlers._assembly.assembleServer`
    from the same options), print one JSON line ``{"port": ..., "ports":
    [...], "config": {...}}`` once every listener listens (with ``"ca"`` and
    ``"spkiPin"`` when a listener is TLS), stop at end of standard input.
    A bad option or an endpoint that cannot listen is one line on standard
    error and exit status 1.
    """
    from twisted.internet import reactor, stdio
    from twisted.internet.defer import gatherResults
    from twisted.internet.protocol import Protocol
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from twisted.python import usage

    from twisted_pyhandlers._assembly import assembleServer
    from twisted_pyhandlers._listening import portNumber
    from twisted_pyhandlers.tap import OptionError
    from twisted_pyhandlers.tap import Options as TapOptions

    class Options(TapOptions):
        optParameters = TapOptions.optParameters + [
            ["requests", None, None, "Append one JSON line per request received to this file."],
        ]

        def postOptions(self) -> None:
            if self["stash"] is None:
                self["stash"] = os.environ.get(STASH_ENVIRONMENT)
            super().postOptions()

    options = Options()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as e:
        sys.stderr.write(f"twisted_pyhandlers test server: {e}\n")
        sys.exit(1)
    except OptionError as e:
        sys.stderr.write(f"twisted_pyhandlers test server: {e.message}\n")
        sys.exit(1)
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)

    records = open(options["requests"], "a", encoding="utf-8") if options["requests"] else None
    server = assembleServer(options, reactor, onRequest=None if records is None else recordTo(records))

    class StopAtEndOfInput(Protocol):
        def connectionLost(self, reason: Any = None) -> None:
            if reactor.running:  # type: ignore[attr-defined]
                reactor.stop()  # type: ignore[attr-defined]

    def ready(ports: List[Any]) -> None:
        numbers = [portNumber(port) for port in ports]
        line: Dict[str, Any] = {"port": numbers[0], "ports": numbers, "config": server.config.as_dict()}
        certificate = server.certificate
        if certificate is not None:
            line["ca"] = os.fspath(certificate.caPath) if certificate.caPath else None
            line["spkiPin"] = certificate.pin
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        # From now on nobody reads the pipe: what handlers print goes to the
        # log, so a chatty handler cannot fill the pipe and block.
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def started() -> None:
        stdio.StandardIO(StopAtEndOfInput(), stdout=os.open(os.devnull, os.O_WRONLY))  # type: ignore[call-arg]

    try:
        server.service.privilegedStartService()
    except SystemExit:
        sys.exit(1)
    gatherResults([listener.listening for listener in server.listeners]).addCallback(ready)
    server.service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", server.service.stopService)  # type: ignore[attr-defined]
    reactor.callWhenRunning(started)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
    if records is not None:
        records.close()
    sys.exit(0 if all(listener.port is not None for listener in server.listeners) else 1)


if __name__ == "__main__":
    main()
