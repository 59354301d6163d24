"""
The handler thread pool (``twisted_pyhandlers._threads``): calls run with
their results or failures reported, at most ``max`` at once, queued calls
survive ``start`` and ``stop``, a call goes to the thread that went idle
last, and, with a clock, calls wait briefly for the thread already running
instead of waking another.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, List

import pytest
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher

from twisted_pyhandlers._threads import QUEUE_BEHIND, HandlerThreadPool, PoolExhausted

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


def blockUntil(gate: threading.Event, started: threading.Semaphore) -> None:
    """A call that announces it runs, then waits for ``gate``."""
    started.release()
    gate.wait(WAIT)


def test_abandonedThreadReplaced() -> None:
    """
    A thread stuck in a call can be abandoned: it stops counting against
    ``max``, so a call waiting behind it runs on a replacement thread.
    """
    pool = HandlerThreadPool(1, name="abandon-pool")
    pool.start()
    gate, started = threading.Event(), threading.Semaphore(0)
    try:
        pool.callInThread(blockUntil, gate, started)
        assert started.acquire(timeout=WAIT)
        stuck = [thread for thread in threading.enumerate() if thread.name.startswith("abandon-pool-")]
        assert len(stuck) == 1
        assert pool.abandon(stuck[0])
        assert not pool.abandon(stuck[0])
        assert (pool.threadCount, pool.abandonedCount) == (0, 1)
        succeeded, name = runAndWait(pool, lambda: threading.current_thread().name)
        assert succeeded and name != stuck[0].name
    finally:
        gate.set()
        pool.stop()


def test_ceilingRefusesFastAndRecovers() -> None:
    """
    Past ``maxAbandoned`` abandoned threads keep their place: once every
    place is held by a stuck thread, a new call is refused at once with
    :class:`PoolExhausted` naming the cause; when the stuck calls return,
    their threads take their places again and calls run.
    """
    pool = HandlerThreadPool(1, name="ceiling-pool", maxAbandoned=1)
    pool.start()
    gate, started = threading.Event(), threading.Semaphore(0)
    try:
        for _ in range(2):
            pool.callInThread(blockUntil, gate, started)
            assert started.acquire(timeout=WAIT)
            running = [t for t in threading.enumerate() if t.name.startswith("ceiling-pool-") and t not in pool._abandoned]
            assert pool.abandon(running[0])
        assert pool.abandonedCount == 2
        begun = time.monotonic()
        with pytest.raises(PoolExhausted, match="stuck in handlers that timed out"):
            pool.callInThread(lambda: None)
        assert time.monotonic() - begun < 1
        gate.set()
        deadline = time.monotonic() + WAIT
        while pool.abandonedCount and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.abandonedCount == 0 and pool.threadCount == 1
        assert runAndWait(pool, lambda: 42) == [True, 42]
    finally:
        gate.set()
        pool.stop()


def test_discardDropsAWaitingCall() -> None:
    """A call no thread has taken yet can be dropped; a running one cannot."""
    pool = HandlerThreadPool(1, name="discard-pool")
    pool.start()
    gate, started = threading.Event(), threading.Semaphore(0)
    ran: List[str] = []
    try:
        pool.callInThread(blockUntil, gate, started)
        assert started.acquire(timeout=WAIT)

        def late() -> None:
            ran.append("late")

        pool.callInThread(late)
        assert pool.discard(late)
        assert not pool.discard(late)
        assert not pool.discard(blockUntil)
    finally:
        gate.set()
        pool.stop()
    assert ran == []


def test_stopLeavesStuckThreadsBehind() -> None:
    """
    ``stop`` waits for running calls only for its grace period: a thread
    stuck for ever is left behind (a daemon thread, which does not hold the
    process) and logged, instead of hanging shutdown.
    """
    pool = HandlerThreadPool(2, name="stuck-pool")
    pool.start()
    gate, started = threading.Event(), threading.Semaphore(0)
    logged: List[Any] = []
    globalLogPublisher.addObserver(logged.append)
    try:
        pool.callInThread(blockUntil, gate, started)
        assert started.acquire(timeout=WAIT)
        begun = time.monotonic()
        pool.stop(grace=0.3)
        assert time.monotonic() - begun < 2
    finally:
        globalLogPublisher.removeObserver(logged.append)
        gate.set()
    stuck = [t for t in threading.enumerate() if t.name.startswith("stuck-pool-")]
    assert all(thread.daemon for thread in stuck)
    assert any("left behind: stuck-pool-0" in str(event.get("names", "")) or "stuck-pool-0" in repr(event) for event in logged)


# -- with a clock: calls wait briefly for the thread already running ---------


def clockedPool(threads: int) -> tuple:
    """A started pool of ``threads`` threads whose clock is a Twisted ``Clock`` (this thread is its thread)."""
    clock = Clock()
    pool = HandlerThreadPool(threads, name="clocked-pool")
    pool.useClock(clock)
    pool.start()
    return pool, clock


@contextmanager
def clockedPoolWithABlockedThread() -> Iterator[tuple]:
    """
    A clocked pool of 4 threads whose first thread is blocked in a call
    (``clocked-pool-0``), released and stopped afterwards.
    """
    pool, clock = clockedPool(4)
    gate, started = threading.Event(), threading.Semaphore(0)
    try:
        pool.callInThread(blockUntil, gate, started)
        assert started.acquire(timeout=WAIT)
        yield pool, clock
    finally:
        gate.set()
        pool.stop()


def burstThreadNames(pool: HandlerThreadPool, clock: Any) -> List[str]:
    """
    With four idle threads in ``pool`` (each blocked once, so that the next
    was not queued behind it), the names of the threads that ran a burst of
    20 quick calls.
    """
    warm = threading.Event()
    started = threading.Semaphore(0)
    for _ in range(4):
        pool.callInThread(blockUntil, warm, started)
        if clock is not None:
            clock.advance(QUEUE_BEHIND)
        assert started.acquire(timeout=WAIT)
    warm.set()
    deadline = time.monotonic() + WAIT
    while len(pool._idle) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.threadCount == 4 and len(pool._idle) == 4
    names: List[str] = []
    done = threading.Semaphore(0)

    def record() -> None:
        names.append(threading.current_thread().name)
        time.sleep(0.002)
        done.release()

    for _ in range(20):
        pool.callInThread(record)
    for _ in range(20):
        assert done.acquire(timeout=WAIT)
    return names


def test_burstRunsOnTheThreadAlreadyRunning() -> None:
    """
    With a clock, a burst of quick calls runs on the one thread already
    running (under the GIL a second thread could not run them sooner), where
    without one each call wakes an idle thread of its own.
    """
    pool, clock = clockedPool(4)
    try:
        names = burstThreadNames(pool, clock)
        assert len(set(names)) == 1, names
    finally:
        pool.stop()
    plain = HandlerThreadPool(4, name="plain-pool")
    plain.start()
    try:
        names = burstThreadNames(plain, None)
        assert len(set(names)) > 1, names
    finally:
        plain.stop()


def test_callBehindABlockedThreadIsRescued() -> None:
    """
    A call queued behind a thread that then blocks waits only
    ``QUEUE_BEHIND`` of the clock: then a thread of its own is started (or
    woken) for it, and for every other call that waited as long.
    """
    with clockedPoolWithABlockedThread() as (pool, clock):
        ran: List[str] = []
        done = threading.Semaphore(0)

        def record() -> None:
            ran.append(threading.current_thread().name)
            done.release()

        pool.callInThread(record)
        pool.callInThread(record)
        # Queued behind the blocked thread: no thread of their own yet.
        assert not done.acquire(timeout=0.2)
        assert pool.threadCount == 1
        clock.advance(QUEUE_BEHIND / 2)
        assert not done.acquire(timeout=0.1)
        clock.advance(QUEUE_BEHIND / 2)
        for _ in range(2):
            assert done.acquire(timeout=WAIT)
        assert "clocked-pool-0" not in ran
        assert pool.threadCount == 3


def test_longRunningThreadIsNotWaitedFor() -> None:
    """A thread whose call began ``QUEUE_BEHIND`` ago or more is not waited for: a new call gets a thread at once."""
    with clockedPoolWithABlockedThread() as (pool, clock):
        clock.advance(QUEUE_BEHIND)
        assert runAndWait(pool, lambda: threading.current_thread().name)[1] != "clocked-pool-0"
        assert not clock.getDelayedCalls()


def test_callsFromAnotherThreadWakeAThread() -> None:
    """Only calls made on the clock's thread wait; one from any other thread wakes a thread at once."""
    with clockedPoolWithABlockedThread() as (pool, clock):
        outcome: List[Any] = []
        caller = threading.Thread(target=lambda: outcome.extend(runAndWait(pool, lambda: "ran")))
        caller.start()
        caller.join(WAIT)
        assert outcome == [True, "ran"]
        assert not clock.getDelayedCalls()
