"""
The threads that run handlers.

:class:`HandlerThreadPool` offers the part of
:class:`twisted.python.threadpool.ThreadPool`'s interface that the handler
resource and ``deferToThreadPool`` use (``callInThread``,
``callInThreadWithCallback``, ``start``, ``stop``), built on one
:class:`queue.SimpleQueue` and plain threads started as they are needed.

Why not Twisted's ``ThreadPool``: it hands every call through a coordinator
(``twisted._threads.Team``: a lock-protected worker, a condition per
hand-off, log-context propagation).  Under the benchmark's 200 concurrent
sleeping handlers that bookkeeping was the largest single cost of a request
(see ``docs/performance.rst``).  Handlers need none of it: a call is a
function and its arguments, run once, in order of arrival.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, List, Optional, Tuple

from twisted.logger import Logger
from twisted.python.failure import Failure
from typing_extensions import Protocol

OnResult = Optional[Callable[[bool, Any], None]]
_Task = Tuple[OnResult, Callable[..., Any], Tuple[Any, ...], dict]

_STOP = object()


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


class HandlerThreadPool:
    """
    A pool of at most ``maxThreads`` threads, started on demand.

    Calls made before :meth:`start` wait in the queue and run once it is
    started (as with Twisted's pool, which a service starts with the
    reactor).  Every method may be called from any thread.

    :ivar max: the most threads that run at once.
    :ivar name: the prefix of the threads' names.
    """

    _log = Logger()

    def __init__(self, maxThreads: int, name: str = "twisted_pyhandlers") -> None:
        if maxThreads < 1:
            raise ValueError("a thread pool needs at least one thread")
        self.max = maxThreads
        self.name = name
        self._queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        # Threads waiting for work that no queued task has claimed yet, and
        # queued tasks that no thread has claimed yet.
        self._idle = 0
        self._backlog = 0
        self.started = False
        self.joined = False

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
        if self.joined:
            raise RuntimeError(f"thread pool {self.name!r} is stopped")
        with self._lock:
            self._queue.put((onResult, func, args, kwargs))
            if self._idle:
                self._idle -= 1
            else:
                self._backlog += 1
                if self.started and len(self._threads) < self.max:
                    self._backlog -= 1
                    self._startThread()

    def start(self) -> None:
        """Start threads for whatever was queued before; later ones on demand."""
        with self._lock:
            if self.started:
                return
            self.started = True
            while self._backlog and len(self._threads) < self.max:
                self._backlog -= 1
                self._startThread()

    def stop(self) -> None:
        """
        Let the running calls finish, then end every thread and wait for
        them.  Not from a pool thread.
        """
        with self._lock:
            self.joined = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(_STOP)
        for thread in threads:
            thread.join()

    def _startThread(self) -> None:
        """Start one more worker.  Holding the lock."""
        thread = threading.Thread(
            target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        """A worker's life: take tasks until told to stop.  Pool thread."""
        while True:
            task = self._queue.get()
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
            with self._lock:
                if self._backlog:
                    self._backlog -= 1
                else:
                    self._idle += 1
