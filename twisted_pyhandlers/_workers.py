"""
``--workers N``: N server processes sharing every listening port.

The process ``twistd pyhandlers --workers N`` starts is the *supervisor*:
it serves no request itself.  It

- opens every listening socket once, before anything else runs (so a port
  that cannot be had ends start-up with one plain line, as without
  ``--workers``, and a port the system chooses is chosen once), and never
  accepts on them;
- hosts the stash the workers share (a
  :class:`~twisted_pyhandlers.managerstash.StashHost`) unless ``--stash``
  names one that lives elsewhere (Redis, another host);
- starts N workers: ``twistd pyhandlers`` with the same options, each
  handed the listening sockets (``--worker-fds``; a worker adopts them with
  ``reactor.adoptStreamPort`` and wraps its TLS ports in TLS itself) and
  the stash URL.  The kernel hands each new connection to one of the
  workers waiting in ``accept`` on the shared socket;
- relays what each worker logs into its own log, prefixed with the worker;
- starts a new worker when one dies, and stops them all (SIGTERM, then
  SIGKILL after :data:`STOP_GRACE` seconds) when it is stopped itself.

Every worker builds the same config from the same options, and fills in
the same real ports (those of the sockets it adopted), so handlers see the
same ``server.config`` whichever worker runs them.

A worker ends when its supervisor does (the supervisor holds the other end
of the worker's standard input: end of file there stops the worker).
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
from typing import Any, Dict, List, Optional, Sequence

from twisted.application.service import Service
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IReactorCore, IStreamServerEndpoint
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_pyhandlers._listening import listenAtStartUp

#: Seconds a stopping worker is given after SIGTERM before SIGKILL.
STOP_GRACE = 10.0

#: Seconds before a worker that died is replaced (so a worker that cannot
#: start at all does not spin the machine).
RESTART_DELAY = 0.5

#: The timestamp twistd starts each log line with (the supervisor's own
#: line has one already).
_TIMESTAMP = re.compile(rb"^\d{4}-\d\d-\d\dT[0-9:.]+(?:[+-]\d{4}|Z)? ")

#: Options a worker does not get from its supervisor's command line: the
#: supervisor decides them for it.
_SUPERVISOR_OPTIONS = ("--workers", "--stash", "--worker-fds")


def autoWorkerCount() -> int:
    """
    How many workers ``--workers auto`` starts: the CPUs this process may
    run on (its affinity mask; ``os.cpu_count()`` where that is unknown).
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parseWorkers(value: str) -> int:
    """
    ``--workers``'s value as a count: a positive integer, or ``auto``.

    :raises ValueError: naming the option, for anything else.
    """
    if value.strip().lower() == "auto":
        return autoWorkerCount()
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"--workers must be a number of processes or 'auto', not {value!r}") from None
    if count < 1:
        raise ValueError("--workers must be at least 1")
    return count


def workerArguments(argv: Sequence[str]) -> List[str]:
    """
    The supervisor's ``twistd pyhandlers`` arguments less those it decides
    for its workers (``--workers``, ``--stash``, ``--worker-fds``), in
    both the ``--name value`` and the ``--name=value`` forms.
    """
    out: List[str] = []
    skip = False
    for argument in argv:
        if skip:
            skip = False
            continue
        if argument in _SUPERVISOR_OPTIONS:
            skip = True
            continue
        if argument.startswith(tuple(name + "=" for name in _SUPERVISOR_OPTIONS)):
            continue
        out.append(argument)
    return out


@implementer(IStreamServerEndpoint)
class AdoptedPortEndpoint:
    """
    An endpoint that "listens" by adopting a socket that already listens,
    handed down by the supervisor as file descriptor ``fd``.  Used by a
    worker on the reactor thread.
    """

    def __init__(self, reactor: Any, fd: int) -> None:
        self._reactor = reactor
        self._fd = fd

    def listen(self, factory: IProtocolFactory) -> "Deferred[IListeningPort]":
        """Serve ``factory`` on the inherited socket (the reactor keeps its own copy)."""
        probe = socket.socket(fileno=os.dup(self._fd))
        family = probe.family
        probe.close()
        port = self._reactor.adoptStreamPort(self._fd, family, factory)
        os.close(self._fd)
        return succeed(port)

    def __str__(self) -> str:
        return f"inherited socket (fd {self._fd})"


def watchSupervisor(reactor: Any, stdin: int = 0) -> threading.Thread:
    """
    Stop ``reactor`` when the supervisor goes away: it holds the write end
    of this worker's standard input, so its end (even by SIGKILL) is an
    end of file here.  A daemon thread waits for it.
    """

    def wait() -> None:
        try:
            while os.read(stdin, 512):
                pass
        except OSError:
            pass
        reactor.callFromThread(reactor.stop)

    thread = threading.Thread(target=wait, name="twisted_pyhandlers-supervisor-watch", daemon=True)
    thread.start()
    return thread


class _Refuse(Protocol):
    """Never used: the supervisor's sockets are never read from."""


class _WorkerProtocol(ProcessProtocol):
    """
    One worker process as its supervisor sees it: its output, relayed line
    by line, and its end.  Reactor thread.
    """

    def __init__(self, supervisor: WorkerSupervisor, index: int) -> None:
        self.supervisor = supervisor
        self.index = index
        self.ended: Deferred[None] = Deferred()
        self._partial = {1: b"", 2: b""}

    @property
    def pid(self) -> Optional[int]:
        """The worker's process id (None once it ended)."""
        transport = self.transport
        return None if transport is None else transport.pid

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        lines = (self._partial.get(childFD, b"") + data).split(b"\n")
        self._partial[childFD] = lines.pop()
        for line in lines:
            self.supervisor.relay(self, line)

    def processEnded(self, reason: Failure) -> None:
        for rest in self._partial.values():
            if rest:
                self.supervisor.relay(self, rest)
        self.supervisor.workerEnded(self, reason)
        self.ended.callback(None)


class WorkerSupervisor(Service):
    """
    Starts ``count`` workers sharing the sockets of ``descriptions``, keeps
    that many running, and stops them with itself (see the module
    docstring).  Reactor thread.

    :param descriptions: the listeners' endpoint strings, in the order the
        workers' topology lists them.
    :param arguments: the workers' ``twistd pyhandlers`` arguments (see
        :func:`workerArguments`).
    :param stash: the ``--stash`` URL given, or None: then the supervisor
        hosts the workers' stash.
    :param python: the interpreter that runs the workers.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorCore,
        descriptions: Sequence[str],
        arguments: Sequence[str],
        count: int,
        stash: Optional[str],
        python: str = sys.executable,
    ) -> None:
        self.reactor = reactor
        self.descriptions = list(descriptions)
        self.arguments = list(arguments)
        self.count = count
        self.stash = stash
        self.python = python
        self.ports: List[IListeningPort] = []
        self.workers: Dict[int, _WorkerProtocol] = {}
        #: How many workers were started, restarts included.
        self.started = 0
        self._stashHost: Any = None
        self._stashURL: Optional[str] = None
        self._listened = False

    # -- starting ------------------------------------------------------------

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        self._listen()

    def startService(self) -> None:
        super().startService()
        self._listen()
        self._stashURL = self._workerStash()
        for index in range(self.count):
            self._spawn(index)

    def _listen(self) -> None:
        """Open every listening socket (once); one plain line and exit 1 if one cannot be had."""
        if self._listened:
            return
        self._listened = True
        refuse = Factory.forProtocol(_Refuse)
        for description in self.descriptions:
            before = len(self.ports)
            endpoint = endpoints.serverFromString(self.reactor, description)
            listenAtStartUp(endpoint, refuse, description).addCallback(self.ports.append)
            if len(self.ports) == before:
                self._log.error(
                    "Cannot listen on {description}: {reason}", description=description, reason="it did not listen at once"
                )
                raise SystemExit(1)
            port = self.ports[-1]
            # The workers accept; this process never does.
            port.stopReading()  # type: ignore[attr-defined]
            self._log.info(
                "twisted_pyhandlers listening on {address} for {count} workers", address=port.getHost(), count=self.count
            )

    def _workerStash(self) -> str:
        """The stash URL every worker gets: the one given, unless in-memory, else one hosted here."""
        if self.stash is not None and self.stash not in ("", "memory:", "memory://"):
            return self.stash
        from twisted_pyhandlers.managerstash import StashHost

        self._stashHost = StashHost()
        self._stashHost.start()
        self._log.info("the workers share a stash hosted by this process (pid {pid})", pid=os.getpid())
        url: str = self._stashHost.url("stash")
        return url

    def _spawn(self, index: int) -> None:
        """Start worker ``index`` with the sockets and the stash."""
        fds = [port.fileno() for port in self.ports]  # type: ignore[attr-defined]
        argv = [
            self.python,
            "-c",
            "from twisted.scripts.twistd import run; run()",
            "-n",
            "--pidfile=",
            "pyhandlers",
            *self.arguments,
            "--stash",
            self._stashURL or "",
            "--worker-fds",
            ",".join(str(fd) for fd in fds),
        ]
        childFDs: Dict[int, Any] = {0: "w", 1: "r", 2: "r"}
        childFDs.update({fd: fd for fd in fds})
        worker = _WorkerProtocol(self, index)
        self.reactor.spawnProcess(  # type: ignore[attr-defined]
            worker, self.python, argv, env=dict(os.environ), childFDs=childFDs
        )
        self.workers[index] = worker
        self.started += 1
        self._log.info("worker {index} started: pid {pid}", index=index, pid=worker.pid)

    # -- running -------------------------------------------------------------

    def relay(self, worker: _WorkerProtocol, line: bytes) -> None:
        """Log one line a worker wrote, naming the worker."""
        self._log.info(
            "[worker {index} pid {pid}] {line}",
            index=worker.index,
            pid=worker.pid,
            line=_TIMESTAMP.sub(b"", line).decode("utf-8", "replace").rstrip("\r"),
        )

    def workerEnded(self, worker: _WorkerProtocol, reason: Failure) -> None:
        """A worker ended: replace it, unless everything is stopping."""
        if self.workers.get(worker.index) is worker:
            del self.workers[worker.index]
        if not self.running:
            return
        self._log.warn(
            "worker {index} ended ({reason}); starting a new one",
            index=worker.index,
            reason=reason.getErrorMessage(),
        )
        self.reactor.callLater(RESTART_DELAY, self._respawn, worker.index)  # type: ignore[attr-defined]

    def _respawn(self, index: int) -> None:
        if self.running and index not in self.workers:
            self._spawn(index)

    # -- stopping ------------------------------------------------------------

    def stopService(self) -> "Deferred[Any]":
        """SIGTERM every worker; SIGKILL those still there after :data:`STOP_GRACE` s."""
        super().stopService()
        workers = list(self.workers.values())
        for worker in workers:
            self._signal(worker, "TERM")

        def kill() -> None:
            for worker in workers:
                if not worker.ended.called:
                    self._signal(worker, "KILL")

        killer = self.reactor.callLater(STOP_GRACE, kill)  # type: ignore[attr-defined]
        done = DeferredList([worker.ended for worker in workers])

        def stopped(result: object) -> object:
            if killer.active():
                killer.cancel()
            for port in self.ports:
                port.stopListening()
            return result

        return done.addBoth(stopped)

    @staticmethod
    def _signal(worker: _WorkerProtocol, name: str) -> None:
        try:
            worker.transport.signalProcess(name)  # type: ignore[union-attr]
        except Exception:
            pass  # ended meanwhile
