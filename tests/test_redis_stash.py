"""
Tests for :mod:`twisted_pyhandlers.redisstash` against a real
``redis-server``: what only the Redis store does (pickling, sharing between
clients and processes, the lock's timeout, outages and recovery).  The stash
rules themselves are pinned for both stores in ``test_stash.py``.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest
from redisserver import PyhandlersProcess, RedisServer, freePort, requireRedisServer

from twisted_pyhandlers.redisstash import RedisStashStore, redactURL
from twisted_pyhandlers.stash import Stash, StashError, StashUnavailable


@dataclasses.dataclass
class Record:
    """A user-defined value, to show the stash carries whatever pickle carries."""

    name: str
    items: list


@pytest.fixture
def redisServer() -> Iterator[RedisServer]:
    server = RedisServer(requireRedisServer())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def store(redisServer: RedisServer) -> Iterator[RedisStashStore]:
    s = RedisStashStore(redisServer.url())
    yield s
    s.close()


def newKey() -> str:
    return str(uuid.uuid4())


def test_valuesArePickled(store: RedisStashStore) -> None:
    """Any picklable value comes back equal (a copy, not the same object)."""
    value = Record("r", [1, b"\x00", ("t", None), {"d": 1.5}])
    key = newKey()
    Stash(store, "/a").put(key, value)
    taken = Stash(store, "/a").take(key)
    assert taken == value
    assert taken is not value


def test_unpicklableRefused(store: RedisStashStore) -> None:
    """An unpicklable value is a TypeError saying so, and nothing is stored."""
    key = newKey()
    with pytest.raises(TypeError, match="picklable"):
        Stash(store, "/a").put(key, threading.Lock())
    assert Stash(store, "/a").take(key) is None


def test_twoClientsShareEntries(redisServer: RedisServer) -> None:
    """
    Two stores on one URL (as two server processes have) see one stash: a
    value put through one is taken through the other, once.
    """
    one = RedisStashStore(redisServer.url())
    two = RedisStashStore(redisServer.url())
    key = newKey()
    Stash(one, "/p").put(key, "shared")
    with pytest.raises(StashError):
        Stash(two, "/p").put(key, "again")
    assert Stash(two, "/p").take(key) == "shared"
    assert Stash(one, "/p").take(key) is None


def test_databasesAreSeparate(redisServer: RedisServer) -> None:
    """The /db part of the URL chooses a separate database: separate stashes."""
    zero = RedisStashStore(redisServer.url(0))
    one = RedisStashStore(redisServer.url(1))
    key = newKey()
    Stash(zero, "/p").put(key, 0)
    assert Stash(one, "/p").take(key) is None
    assert Stash(zero, "/p").take(key) == 0


_HOLD_LOCK_AND_HANG = """
import sys, threading
from twisted_pyhandlers.redisstash import RedisStashStore
store = RedisStashStore(sys.argv[1], lockTimeout=float(sys.argv[2]))
store.lock.acquire()
print("held", flush=True)
threading.Event().wait()
"""


def test_crashedHolderLosesLock(redisServer: RedisServer) -> None:
    """
    A process that dies holding stash.lock does not hold it forever: the
    lock's timeout frees it, and another process acquires it.
    """
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK_AND_HANG, redisServer.url(), "2"],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"held\n"
        store = RedisStashStore(redisServer.url())
        assert store.lock.acquire(blocking=False) is False
        child.kill()
        child.wait()
        # Generous: the lock expires 2 s after the child took it.
        assert store.lock.acquire(timeout=60) is True
        store.lock.release()
    finally:
        child.kill()
        child.wait()


def test_releaseAfterExpiryIsStashError(redisServer: RedisServer) -> None:
    """
    A holder that keeps the lock past its timeout has lost it: releasing is
    a StashError that says the lock expired, and others could take it.
    """
    store = RedisStashStore(redisServer.url(), lockTimeout=0.2)
    other = RedisStashStore(redisServer.url())
    store.lock.acquire()
    assert other.lock.acquire(timeout=60) is True
    with pytest.raises(StashError, match="expired"):
        store.lock.release()
    other.lock.release()


def test_lockNotReentrantAcrossThreadsOfOneStore(store: RedisStashStore) -> None:
    """
    Threads of one process share one store object; the lock still excludes
    them from each other (each thread's hold is its own).
    """
    store.lock.acquire()
    results: List[bool] = []

    def tryLock() -> None:
        acquired = store.lock.acquire(blocking=False)
        results.append(acquired)
        if acquired:
            store.lock.release()

    t = threading.Thread(target=tryLock)
    t.start()
    t.join(30)
    store.lock.release()
    assert results == [False]
    t = threading.Thread(target=tryLock)
    t.start()
    t.join(30)
    assert results == [False, True]


def test_unreachableNamesURL() -> None:
    """
    With nothing listening at the stash URL, put, take and the lock raise
    StashUnavailable whose message names the URL.
    """
    url = f"redis://127.0.0.1:{freePort()}/0"
    store = RedisStashStore(url)
    stash = Stash(store, "/a")
    for call in (
        lambda: stash.put(newKey(), 1),
        lambda: stash.take(newKey()),
        lambda: stash.lock.acquire(),
    ):
        with pytest.raises(StashUnavailable, match=f"stash {url} is unreachable"):
            call()


def test_unreachableHidesPassword() -> None:
    """The URL in an outage message has its password replaced by ***."""
    port = freePort()
    store = RedisStashStore(f"redis://:s3cret@127.0.0.1:{port}/0")
    with pytest.raises(StashUnavailable) as info:
        Stash(store, "/a").take(newKey())
    assert "s3cret" not in str(info.value)
    assert f"redis://:***@127.0.0.1:{port}/0" in str(info.value)


def test_recoversWhenRedisIsBack(
    redisServer: RedisServer, store: RedisStashStore
) -> None:
    """
    Redis stops: stash calls fail naming the URL.  Redis starts again on the
    same port: the same store works again, without being recreated.
    """
    stash = Stash(store, "/a")
    key = newKey()
    stash.put(key, "before")
    assert stash.take(key) == "before"
    redisServer.stop()
    with pytest.raises(StashUnavailable, match=redisServer.url()):
        stash.put(newKey(), "during")
    with pytest.raises(StashUnavailable, match=redisServer.url()):
        stash.take(key)
    redisServer.start()
    stash.put(key, "after")
    assert stash.take(key) == "after"
    with stash.lock:
        pass


def test_redactURL() -> None:
    """redactURL hides passwords and leaves other URLs alone."""
    assert redactURL("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redactURL("redis://u:pw@h:1/2") == "redis://u:***@h:1/2"
    assert redactURL("rediss://:pw@h/0") == "rediss://:***@h/0"


def test_invalidURL() -> None:
    """A malformed Redis URL is a ValueError at construction, naming it."""
    with pytest.raises(ValueError, match="Invalid stash URL"):
        RedisStashStore("redis://127.0.0.1:notaport/0")


def test_restartBetweenCallsIsInvisible(
    redisServer: RedisServer, store: RedisStashStore
) -> None:
    """
    A Redis restart between two calls leaves stale connections in the pool;
    the next call replaces them and succeeds instead of failing once.
    """
    stash = Stash(store, "/a")
    stash.put(newKey(), "warm the pool")
    redisServer.stop()
    redisServer.start()
    key = newKey()
    stash.put(key, "after restart")
    assert stash.take(key) == "after restart"


_PUT = """
def main(request, response):
    key = request.GET.first(b"id")
    request.server.stash.put(key, request.GET.first(b"value"), path="/shared")
    return "stored"
"""

_TAKE = """
def main(request, response):
    value = request.server.stash.take(request.GET.first(b"id"), path="/shared")
    return "missing" if value is None else value
"""

_PLAIN = """
def main(request, response):
    return "ok"
"""


@pytest.fixture
def stashRoot(tmp_path: Path) -> str:
    """
    A document root with handlers that put and take over HTTP, and a
    handler and a file that ignore the stash.
    """
    root = tmp_path / "root"
    root.mkdir()
    (root / "put.py").write_text(_PUT)
    (root / "take.py").write_text(_TAKE)
    (root / "plain.py").write_text(_PLAIN)
    (root / "static.txt").write_text("static")
    return str(root)


def test_twoServerProcessesShareStash(redisServer: RedisServer, stashRoot: str) -> None:
    """
    Two server processes started with the same --stash redis:// URL share
    one stash: a value put over HTTP through one is taken through the other,
    once.
    """
    one = PyhandlersProcess(stashRoot, "--stash", redisServer.url())
    two = PyhandlersProcess(stashRoot, "--stash", redisServer.url())
    one.start()
    try:
        two.start()
        try:
            key = newKey()
            assert one.get(f"/put.py?id={key}&value=hello") == (200, b"stored")
            assert two.get(f"/put.py?id={key}&value=again")[0] == 500
            assert two.get(f"/take.py?id={key}") == (200, b"hello")
            assert one.get(f"/take.py?id={key}") == (200, b"missing")
        finally:
            two.stop()
    finally:
        one.stop()


def test_outageOverHTTP(redisServer: RedisServer, stashRoot: str) -> None:
    """
    With Redis down, a handler touching the stash answers 500 with a body
    naming the stash URL; handlers and files that do not touch it answer as
    usual; once Redis is back the stash works again in the same process.
    """
    server = PyhandlersProcess(stashRoot, "--stash", redisServer.url())
    server.start()
    try:
        key = newKey()
        assert server.get(f"/put.py?id={key}&value=v") == (200, b"stored")
        redisServer.stop()
        status, body = server.get(f"/take.py?id={key}")
        assert status == 500
        assert f"stash {redisServer.url()} is unreachable".encode() in body
        assert server.get("/plain.py") == (200, b"ok")
        assert server.get("/static.txt") == (200, b"static")
        redisServer.start()
        assert server.get(f"/put.py?id={key}&value=back") == (200, b"stored")
        assert server.get(f"/take.py?id={key}") == (200, b"back")
    finally:
        server.stop()
