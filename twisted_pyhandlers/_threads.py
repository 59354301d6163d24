"""
The threads that run handlers.

:class:`HandlerThreadPool` offers the part of
:class:`twisted.python.threadpool.ThreadPool`'s interface that the handler
resource and ``deferToThreadPool`` use (``callInThread``,
``callInThreadWithCallback``, ``start``, ``stop``), built on plain
threads started as they are needed.

Why not Twisted's ``ThreadPool``: it hands every call through a coordinator
(``twisted._threads.Team``: a lock-protected worker, a condition per
hand-off, log-context propagation), a cost paid by every request.  Handlers
need none of it: a call is a function and its arguments, run once, in
order of arrival.

The thread that runs a call is the one that went idle last.  A pool sized
for 200 sleeping handlers has far more threads than a burst of quick
requests needs; handing work to the most recently idle thread keeps that
burst on a few threads whose stacks, interpreter state and malloc arena
are still warm, where a shared queue would rotate it through all of them.

Once the pool is tied to a reactor (:func:`tiedToReactor`), a call made on
the reactor thread while a pool thread has just begun another call (less
than :data:`QUEUE_BEHIND` ago) waits for that thread instead of waking an
idle one, and an idle thread is woken for it only if it is still waiting
:data:`QUEUE_BEHIND` later (a reactor ``callLater``, one for all the calls
waiting, not one per call).  Under the GIL, only one thread runs Python at
a time: a second thread woken for a quick handler cannot run it sooner, it
only fights the first for the GIL, and every such fight is a pair of
context switches (``docs/performance.rst`` has the figures).  A call queued behind a handler that
then blocks (sleeps, waits on a socket) waits at most
:data:`QUEUE_BEHIND` longer than before; a handler that has been running
longer than that is not waited for at all.

A thread stuck in a handler that never returns can be *abandoned*
(:meth:`HandlerThreadPool.abandon`, when ``--handler-timeout`` gives up on
its handler): it no longer counts as one of the ``max`` threads, so a
replacement starts and new requests are served.  Abandoned threads count
against a hard ceiling, ``maxAbandoned``: past it, a thread abandoned keeps
its place among the ``max``, and once every place is held by a stuck thread
the pool refuses new calls at once (:class:`PoolExhausted`) instead of
queueing them for ever.  An abandoned thread whose handler returns after
all takes a free place again, or ends.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Protocol, Tuple

from twisted.internet.interfaces import IDelayedCall, IReactorCore, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

OnResult = Optional[Callable[[bool, Any], None]]
_Task = Tuple[OnResult, Callable[..., Any], Tuple[Any, ...], dict]

_STOP = object()

#: How recently a pool thread must have begun its call for a new call made
#: on the reactor thread to wait for it rather than wake another thread;
#: also the longest such a call waits before another thread is woken for it
#: anyway (seconds).  See the module docstring.
QUEUE_BEHIND = 0.002

#: How long :meth:`HandlerThreadPool.stop` waits for running calls, in all,
#: before leaving the threads still running behind (they are daemon
#: threads, so they do not keep the process alive).
STOP_GRACE = 3.0


class PoolExhausted(RuntimeError):
    """
    Every thread of the pool is stuck in a handler that was given up on:
    a new call would wait for ever, so it is refused.
    """


class CallRunner(Protocol):
    """
    What the handler resource needs of a thread pool: Twisted's
    :class:`~twisted.python.threadpool.ThreadPool`,
    :class:`HandlerThreadPool` and
    :class:`~twisted_pyhandlers.testing.SynchronousThreadPool` all fit.
    """

    def callInThread(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None: ...

    def callInThreadWithCallback(
        self, onResult: Any, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None: ...


class _Worker:
    """
    One pool thread's hand-over slot: the call it is given while idle, and
    the lock it sleeps on until then (held while it has nothing to do, so
    ``acquire`` waits until the pool releases it).
    """

    __slots__ = ("task", "wake", "since", "starting")

    def __init__(self) -> None:
        self.task: Any = None
        self.wake = threading.Lock()
        self.wake.acquire()
        #: When the thread took its current call (the pool's clock).
        self.since = 0.0
        #: True until the thread, just started, takes its first call.
        self.starting = True


class HandlerThreadPool:
    """
    A pool of at most ``maxThreads`` threads, started on demand; a call goes
    to the thread that went idle last, or waits for the next one free.

    Calls made before :meth:`start` wait and run once it is started (as
    with Twisted's pool, which a service starts with the reactor).  Every
    method may be called from any thread.

    :ivar max: the most threads that run at once (abandoned ones aside).
    :ivar maxAbandoned: the most abandoned threads replaced (by default
        ``max``: the pool never runs more than twice ``max`` threads).
    :ivar name: the prefix of the threads' names.
    """

    _log = Logger()

    def __init__(self, maxThreads: int, name: str = "twisted_pyhandlers", maxAbandoned: Optional[int] = None) -> None:
        if maxThreads < 1:
            raise ValueError("a thread pool needs at least one thread")
        self.max = maxThreads
        self.maxAbandoned = maxThreads if maxAbandoned is None else maxAbandoned
        self.name = name
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        # Abandoned threads still running, by thread.
        self._abandoned: Dict[threading.Thread, _Worker] = {}
        self._workers: Dict[threading.Thread, _Worker] = {}
        self._started = 0
        # Calls no thread has taken yet, oldest first, each with when it was
        # queued (the pool's clock); idle threads, the one that went idle last
        # at the end.
        self._waiting: Deque[Tuple[float, _Task]] = deque()
        self._idle: List[_Worker] = []
        # The thread that took a call last, while it runs that call (None
        # once it goes idle): the one a new call may wait for.
        self._freshest: Optional[_Worker] = None
        # Threads started that have not yet taken their first call.
        self._starting = 0
        # The reactor that wakes an idle thread for a call waiting too
        # long, and its thread (see useClock).
        self._clock: Optional[IReactorTime] = None
        self._clockThread: Optional[int] = None
        # What "when" means for the times kept here: the clock's time once
        # there is one, so that a test's Clock decides alone.
        self._now: Callable[[], float] = time.monotonic
        self._rescue: Optional[IDelayedCall] = None
        self.started = False
        self.joined = False

    @property
    def threadCount(self) -> int:
        """How many threads the pool runs, abandoned ones aside."""
        return len(self._threads)

    @property
    def abandonedCount(self) -> int:
        """How many abandoned threads are still stuck."""
        return len(self._abandoned)

    @property
    def _places(self) -> int:
        """How many threads may run, abandoned ones aside.  Holding the lock."""
        return self.max - max(0, len(self._abandoned) - self.maxAbandoned)

    def callInThread(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``func(*args, **kwargs)`` in a pool thread; log what it raises."""
        self.callInThreadWithCallback(None, func, *args, **kwargs)

    def callInThreadWithCallback(
        self, onResult: OnResult, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """
        Run ``func(*args, **kwargs)`` in a pool thread, then call
        ``onResult(True, result)`` or ``onResult(False, failure)`` there.
        """
        task: _Task = (onResult, func, args, kwargs)
        with self._lock:
            if self.joined:
                raise RuntimeError(f"thread pool {self.name!r} is stopped")
            if self._queueBehind(task):
                return
            if self._idle:
                self._handTo(self._idle.pop(), task, self._now())
                return
            if self._places <= 0:
                raise PoolExhausted(
                    f"all {self.max} handler threads are stuck in handlers that timed out "
                    f"({len(self._abandoned)} abandoned, the most the pool replaces is {self.maxAbandoned}); "
                    "see the server log for their stacks"
                )
            self._waiting.append((self._now(), task))
            if self.started and len(self._threads) < self._places:
                self._startThread()

    def useClock(self, clock: IReactorTime) -> None:
        """
        Let calls made on this thread (the reactor's) wait briefly for the
        pool thread that is already running, with ``clock`` waking an idle
        thread for any that waits :data:`QUEUE_BEHIND` (see the module
        docstring).  Without a clock every call wakes an idle thread.
        Reactor thread.
        """
        with self._lock:
            self._clock = clock
            self._clockThread = threading.get_ident()
            self._now = clock.seconds
            # Times taken before are on another clock: forget them.
            self._freshest = None
            self._waiting = deque((self._now(), task) for _, task in self._waiting)

    def _queueBehind(self, task: _Task) -> bool:
        """
        Queue ``task`` for the thread that took a call less than
        :data:`QUEUE_BEHIND` ago and still runs it, if there is one and this
        is the clock's thread; make sure a rescue is on its way.  Holding
        the lock.

        :return: whether ``task`` was queued.
        """
        freshest = self._freshest
        if freshest is None or self._clock is None or not self.started:
            return False
        now = self._now()
        if now - freshest.since >= QUEUE_BEHIND or threading.get_ident() != self._clockThread:
            return False
        self._waiting.append((now, task))
        if self._rescue is None:
            self._rescue = self._clock.callLater(QUEUE_BEHIND, self._rescueWaiting)
        return True

    def _rescueWaiting(self) -> None:
        """
        The oldest waiting calls have waited :data:`QUEUE_BEHIND`: the thread
        they wait for is blocked, or slow.  Wake an idle thread (or start
        one) for each, oldest first; come back for the younger ones while
        there are threads to give them.  Reactor thread.
        """
        with self._lock:
            self._rescue = None
            if self.joined or not self.started:
                return
            now = self._now()
            waiting = self._waiting
            overdue = 0
            nextDue: Optional[float] = None
            for queued, _ in waiting:
                if now - queued < QUEUE_BEHIND:
                    nextDue = queued + QUEUE_BEHIND
                    break
                overdue += 1
            # Threads still starting take the oldest calls as they start.
            overdue -= self._starting
            while overdue > 0 and self._idle:
                self._handTo(self._idle.pop(), waiting.popleft()[1], now)
                overdue -= 1
            while overdue > 0 and len(self._threads) < self._places:
                self._startThread()
                overdue -= 1
            if nextDue is not None and self._clock is not None:
                self._rescue = self._clock.callLater(max(0.0, nextDue - now), self._rescueWaiting)

    def _handTo(self, worker: _Worker, task: _Task, now: float) -> None:
        """Give ``task`` to idle ``worker`` and wake it.  Holding the lock."""
        worker.task = task
        worker.since = now
        self._freshest = worker
        worker.wake.release()

    def discard(self, func: Callable[..., Any]) -> bool:
        """
        Drop a call of ``func`` that no thread has taken yet.

        :return: whether one was waiting.
        """
        with self._lock:
            for entry in self._waiting:
                if entry[1][1] == func:
                    self._waiting.remove(entry)
                    return True
        return False

    def abandon(self, thread: threading.Thread) -> bool:
        """
        Give up on the call ``thread`` runs (it is stuck): the thread no
        longer counts as one of :attr:`max`, while the abandoned ones are no
        more than :attr:`maxAbandoned`, and a replacement starts if calls
        are waiting.  When the call returns after all, the thread takes a
        free place again or ends.

        :return: whether ``thread`` was one of the pool's running threads.
        """
        with self._lock:
            if thread not in self._threads:
                return False
            self._threads.remove(thread)
            self._abandoned[thread] = self._workers.pop(thread)
            if self.started and self._waiting and len(self._threads) < self._places:
                self._startThread()
        return True

    def start(self) -> None:
        """Start threads for whatever was queued before; later ones on demand."""
        with self._lock:
            if self.started:
                return
            self.started = True
            for _ in range(min(len(self._waiting), self.max)):
                self._startThread()

    def stop(self, grace: float = STOP_GRACE) -> None:
        """
        Let the running and waiting calls finish, then end every thread and
        wait for them, for ``grace`` seconds in all: threads still running
        then (stuck in a handler) are left behind, and logged; they are
        daemon threads, which do not keep the process alive.  Abandoned
        threads are not waited for.  Not from a pool thread.
        """
        with self._lock:
            self.joined = True
            threads = list(self._threads)
            idle, self._idle = self._idle, []
            rescue, self._rescue = self._rescue, None
        if rescue is not None and rescue.active():
            rescue.cancel()
        for worker in idle:
            worker.task = _STOP
            worker.wake.release()
        deadline = time.monotonic() + grace
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = [thread.name for thread in threads if thread.is_alive()]
        if left:
            self._log.warn(
                "Stopping with {count} handler thread(s) still running, left behind: {names}",
                count=len(left),
                names=", ".join(left),
            )

    def _startThread(self) -> None:
        """Start one more worker.  Holding the lock."""
        worker = _Worker()
        # A thread starting takes the oldest waiting call at once: a call
        # made meanwhile may wait for it as for a running one.
        worker.since = self._now()
        self._freshest = worker
        self._starting += 1
        thread = threading.Thread(target=self._work, args=(worker,), name=f"{self.name}-{self._started}", daemon=True)
        self._started += 1
        self._threads.append(thread)
        self._workers[thread] = worker
        thread.start()

    def _rejoin(self, worker: _Worker) -> bool:
        """
        ``worker``'s call returned: if its thread was abandoned, it takes a
        free place again, else it ends.  Pool thread.

        :return: whether the thread goes on serving.
        """
        thread = threading.current_thread()
        with self._lock:
            if thread not in self._abandoned:
                return True
            del self._abandoned[thread]
            if self.joined or len(self._threads) >= self._places:
                return False
            self._threads.append(thread)
            self._workers[thread] = worker
            return True

    def _next(self, worker: _Worker) -> Any:
        """
        The next call for ``worker`` to run: a waiting one, else the one it
        is handed after going idle; :data:`_STOP` when the pool is stopped.
        Pool thread.
        """
        with self._lock:
            if worker.starting:
                worker.starting = False
                self._starting -= 1
            if self._waiting:
                worker.since = self._now()
                self._freshest = worker
                return self._waiting.popleft()[1]
            if self._freshest is worker:
                self._freshest = None
            if self.joined:
                return _STOP
            self._idle.append(worker)
        worker.wake.acquire()
        task, worker.task = worker.task, None
        return task

    def _work(self, worker: _Worker) -> None:
        """A worker's life: run calls until the pool stops.  Pool thread."""
        while True:
            task = self._next(worker)
            if task is _STOP:
                return
            onResult, func, args, kwargs = task
            try:
                result = func(*args, **kwargs)
            except BaseException:
                failure = Failure()
                if onResult is None:
                    self._log.failure("Unhandled error in a handler thread", failure)
                else:
                    onResult(False, failure)
            else:
                if onResult is not None:
                    onResult(True, result)
            del task, onResult, func, args, kwargs
            if not self._rejoin(worker):
                return


def tiedToReactor(pool: HandlerThreadPool, reactor: IReactorCore) -> HandlerThreadPool:
    """
    Tie ``pool``'s life to ``reactor``'s: started when the reactor runs (at
    once if it already does), with ``reactor`` as its clock (calls made on
    the reactor thread may wait briefly for the thread already running:
    see the module docstring), stopped during its shutdown.  The one place
    that does so, for the library's default pool and for ``twistd
    pyhandlers`` alike.  Any thread before the reactor runs; reactor thread
    after.
    """

    def start() -> None:
        pool.useClock(reactor)  # type: ignore[arg-type]
        pool.start()

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("during", "shutdown", pool.stop)
    return pool


class SerialCalls:
    """
    Calls run in a thread pool one after another, in the order given: the
    steps of one HTTP/2 stream (its frames are handled in order, as
    wptserve's one thread per stream does), or the handler calls of one
    WebTransport session (in order, never overlapping, while other
    sessions' calls run in other threads), without holding a thread
    between them.  ``call`` runs on the reactor thread; the calls in the pool.
    """

    _log = Logger()

    def __init__(self, pool: CallRunner) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._calls: Deque[Callable[[], None]] = deque()
        self._running = False

    def call(self, work: Callable[[], None]) -> None:
        """Run ``work`` after every call given before it."""
        with self._lock:
            self._calls.append(work)
            if self._running:
                return
            self._running = True
        self._pool.callInThread(self._drain)

    def _drain(self) -> None:
        """Run the calls until none is left.  Pool thread."""
        while True:
            with self._lock:
                if not self._calls:
                    self._running = False
                    return
                work = self._calls.popleft()
            try:
                work()
            except BaseException:
                self._log.failure("A serial call (an HTTP/2 stream step or a WebTransport handler call) failed")
