"""
The handler thread pool (``twisted_pyhandlers._threads``): calls run with
their results or failures reported, at most ``max`` at once, queued calls
survive ``start`` and ``stop``, and a call goes to the thread that went idle
last.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator, List

import pytest
from twisted.logger import globalLogPublisher

from twisted_pyhandlers._threads import HandlerThreadPool

WAIT = 10.0


@pytest.fixture
def pool() -> Iterator[HandlerThreadPool]:
    """A started pool of 4 threads, stopped after the test."""
    pool = HandlerThreadPool(4, name="test-pool")
    pool.start()
    yield pool
    if not pool.joined:
        pool.stop()


def runAndWait(pool: HandlerThreadPool, func: Any, *args: Any) -> List[Any]:
    """Run ``func(*args)`` in the pool; return ``[succeeded, result]`` once reported."""
    done = threading.Event()
    outcome: List[Any] = []

    def onResult(succeeded: bool, result: Any) -> None:
        outcome.extend([succeeded, result])
        done.set()

    pool.callInThreadWithCallback(onResult, func, *args)
    assert done.wait(WAIT)
    return outcome


def test_resultsAndFailures(pool: HandlerThreadPool) -> None:
    """A call's result, or its failure, reaches ``onResult`` from a pool thread."""
    succeeded, result = runAndWait(pool, lambda a, b: (a + b, threading.current_thread().name), 2, 3)
    assert succeeded and result[0] == 5 and result[1].startswith("test-pool-")
    succeeded, failure = runAndWait(pool, lambda: 1 / 0)
    assert not succeeded and failure.check(ZeroDivisionError)


def test_unhandledErrorLogged(pool: HandlerThreadPool) -> None:
    """What a plain ``callInThread`` call raises is logged, and the thread serves on."""
    logged: List[Any] = []
    observer = logged.append
    globalLogPublisher.addObserver(observer)
    try:
        pool.callInThread(lambda: 1 / 0)
        assert runAndWait(pool, lambda: "next") == [True, "next"]
        deadline = time.monotonic() + WAIT
        while not any(event.get("log_failure") for event in logged) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        globalLogPublisher.removeObserver(observer)
    failures = [event["log_failure"] for event in logged if event.get("log_failure")]
    assert failures and failures[0].check(ZeroDivisionError)


def test_atMostMaxAtOnce(pool: HandlerThreadPool) -> None:
    """Ten blocking calls on four threads: four run at once, all ten finish."""
    release = threading.Event()
    lock = threading.Lock()
    running = [0]
    most = [0]
    finished = threading.Semaphore(0)

    def call() -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(WAIT)
        with lock:
            running[0] -= 1
        finished.release()

    for _ in range(10):
        pool.callInThread(call)
    time.sleep(0.2)
    assert most[0] == 4 and pool.threadCount == 4
    release.set()
    for _ in range(10):
        assert finished.acquire(timeout=WAIT)
    assert most[0] == 4


def test_lastIdleThreadFirst(pool: HandlerThreadPool) -> None:
    """
    Once four threads exist, calls made one after another all run on the
    same one (the one that went idle last), not in turn on all four.
    """
    release = threading.Event()
    started = threading.Semaphore(0)

    def block() -> None:
        started.release()
        release.wait(WAIT)

    for _ in range(4):
        pool.callInThread(block)
    for _ in range(4):
        assert started.acquire(timeout=WAIT)
    release.set()
    time.sleep(0.1)

    names = []
    for _ in range(12):
        names.append(runAndWait(pool, lambda: threading.current_thread().name)[1])
        time.sleep(0.01)  # the thread is idle again before the next call
    assert pool.threadCount == 4
    assert len(set(names)) == 1, names


def test_callsBeforeStartRunAfter() -> None:
    """Calls made before ``start`` wait, then run once the pool starts."""
    pool = HandlerThreadPool(2)
    ran = threading.Semaphore(0)
    for _ in range(3):
        pool.callInThread(ran.release)
    assert pool.threadCount == 0 and not ran.acquire(timeout=0.1)
    pool.start()
    try:
        for _ in range(3):
            assert ran.acquire(timeout=WAIT)
    finally:
        pool.stop()


def test_stopFinishesWaitingCalls() -> None:
    """``stop`` lets running and waiting calls finish, ends every thread, then refuses calls."""
    pool = HandlerThreadPool(1)
    pool.start()
    results: List[int] = []
    for n in range(5):
        pool.callInThread(lambda n=n: (time.sleep(0.01), results.append(n)))
    pool.stop()
    assert results == [0, 1, 2, 3, 4]
    assert pool.joined
    with pytest.raises(RuntimeError, match="stopped"):
        pool.callInThread(lambda: None)


def test_needsAThread() -> None:
    """A pool of no threads is refused."""
    with pytest.raises(ValueError):
        HandlerThreadPool(0)
