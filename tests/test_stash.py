"""
Tests for :mod:`twisted_pyhandlers.stash`: wptserve's stash rules, pinned on
the in-memory store and on the Redis store alike (the Redis-only behaviour
lives in ``test_redis_stash.py``).
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest
import pytest_twisted
import treq
from redisserver import RedisServer, requireRedisServer
from serving import Serve

from twisted_pyhandlers import HandlerDirectory
from twisted_pyhandlers._stashurl import stashStoreFromURL
from twisted_pyhandlers.redisstash import RedisStashStore
from twisted_pyhandlers.stash import (
    MemoryStashStore,
    Stash,
    StashError,
    StashStore,
    sharedMemoryStore,
)


@pytest.fixture(scope="module")
def redisServer() -> Iterator[RedisServer]:
    server = RedisServer(requireRedisServer())
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[StashStore]:
    """Each rule runs on a fresh in-memory store and a fresh Redis store."""
    if request.param == "memory":
        yield MemoryStashStore()
        return
    server = request.getfixturevalue("redisServer")
    # A prefix of its own keeps each test's entries apart in one database.
    redisStore = RedisStashStore(server.url(), prefix=f"test:{uuid.uuid4()}:")
    yield redisStore
    redisStore.close()


def newKey() -> str:
    return str(uuid.uuid4())


def test_putThenTake(store: StashStore) -> None:
    """A value put under a key is returned by take, which removes it."""
    stash = Stash(store, "/a/b.py")
    key = newKey()
    stash.put(key, {"x": [1, 2]})
    assert stash.take(key) == {"x": [1, 2]}
    assert stash.take(key) is None


def test_takeMissing(store: StashStore) -> None:
    """Taking a key nobody put returns None."""
    assert Stash(store, "/a").take(newKey()) is None


@pytest.mark.parametrize(
    "spelling",
    [
        lambda u: str(u),
        lambda u: str(u).encode("ascii"),
        lambda u: str(u).upper(),
        lambda u: "{" + str(u) + "}",
        lambda u: "urn:uuid:" + str(u),
        lambda u: u.hex,
    ],
    ids=["str", "bytes", "upper", "braces", "urn", "hex"],
)
def test_keySpellings(store: StashStore, spelling: Callable[[uuid.UUID], Any]) -> None:
    """Every spelling uuid.UUID accepts, str or bytes, names the same key."""
    stash = Stash(store, "/a")
    u = uuid.uuid4()
    stash.put(str(u), "v")
    assert stash.take(spelling(u)) == "v"


INVALID_KEYS = [
    pytest.param("not-a-uuid", ValueError, 'Invalid UUID "not-a-uuid" used as stash key', id="garbage"),
    pytest.param("", ValueError, 'Invalid UUID "" used as stash key', id="empty"),
    pytest.param(b"\xff" * 16, UnicodeDecodeError, "'ascii' codec can't decode byte 0xff", id="nonascii-bytes"),
    pytest.param(
        None, TypeError, "one of the hex, bytes, bytes_le, fields, or int arguments must be given", id="None"
    ),
    pytest.param(5, AttributeError, "'int' object has no attribute 'replace'", id="int"),
    pytest.param(1.5, AttributeError, "'float' object has no attribute 'replace'", id="float"),
    pytest.param(uuid.uuid4(), AttributeError, "'UUID' object has no attribute 'replace'", id="UUID-object"),
    pytest.param(["x"], AttributeError, "'list' object has no attribute 'replace'", id="list"),
]


@pytest.mark.parametrize("key,error,message", INVALID_KEYS)
def test_invalidKeys(store: StashStore, key: Any, error: type, message: str) -> None:
    """
    Anything but a UUID given as str or bytes raises, for put and take, the
    exception wptserve 4.0.3 raises, with its message: ValueError naming the
    key for a str that is no UUID, UnicodeDecodeError for non-ASCII bytes,
    TypeError for None, AttributeError for other types.
    """
    stash = Stash(store, "/a")
    with pytest.raises(error) as put:
        stash.put(key, "v")
    assert message in str(put.value)
    with pytest.raises(error) as take:
        stash.take(key)
    assert message in str(take.value)
    assert type(put.value) is error and type(take.value) is error


def test_putNoneRefused(store: StashStore) -> None:
    """put refuses None (a ValueError, as in wptserve) and stores nothing."""
    stash = Stash(store, "/a")
    key = newKey()
    with pytest.raises(ValueError):
        stash.put(key, None)
    stash.put(key, 0)
    assert stash.take(key) == 0


def test_putRefusesOverwrite(store: StashStore) -> None:
    """
    A second put under the same key and path is a StashError; the first
    value stays.
    """
    stash = Stash(store, "/a")
    key = newKey()
    stash.put(key, "first")
    with pytest.raises(StashError):
        stash.put(key.upper(), "second")
    assert stash.take(key) == "first"
    stash.put(key, "third")
    assert stash.take(key) == "third"


def test_falsyValues(store: StashStore) -> None:
    """Falsy values other than None (0, "", b"", [], False) are stored and taken."""
    stash = Stash(store, "/a")
    values: List[object] = [0, "", b"", [], False]
    for value in values:
        key = newKey()
        stash.put(key, value)
        with pytest.raises(StashError):
            stash.put(key, "other")
        assert stash.take(key) == value


def test_pathScoping(store: StashStore) -> None:
    """
    Entries are scoped by path: by default the request's path; another
    resource sees them only by naming that path with ``path=``.
    """
    writer = Stash(store, "/writer.py")
    reader = Stash(store, "/reader.py")
    key = newKey()
    writer.put(key, "for the writer")
    assert reader.take(key) is None
    writer.put(key, "for the reader", path="/reader.py")
    assert reader.take(key) == "for the reader"
    assert reader.take(key, path="/writer.py") == "for the writer"
    assert writer.take(key) is None


def test_pathStrAndBytes(store: StashStore) -> None:
    """A bytes path and its ISO-8859-1 str spelling are the same path."""
    key = newKey()
    Stash(store, b"/caf\xe9.py").put(key, 1)
    assert Stash(store, "/x").take(key, path="/caf\xe9.py") == 1


def test_pathNotLatin1(store: StashStore) -> None:
    """A str path with code points above 255 cannot be encoded: a ValueError."""
    with pytest.raises(ValueError):
        Stash(store, "/a").put(newKey(), 1, path="/\u5929")


def test_lockSharedAcrossRequests(store: StashStore) -> None:
    """
    stash.lock is one lock for every request: while one request's thread
    holds it, another request's thread cannot acquire it.
    """
    first = Stash(store, "/one")
    second = Stash(store, "/two")
    held = threading.Event()
    done = threading.Event()
    results: List[bool] = []

    def holder() -> None:
        with first.lock:
            held.set()
            done.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert held.wait(30)
        results.append(second.lock.acquire(blocking=False))
    finally:
        done.set()
        t.join(30)
    assert results == [False]
    with second.lock:
        pass


def test_lockGuardsReadModifyWrite(store: StashStore) -> None:
    """
    Handlers use the lock around take-then-put; with it, concurrent
    increments of one stashed counter lose no update.
    """
    key = newKey()
    Stash(store, "/counter").put(key, 0)
    threads = 8
    perThread = 10

    def increment() -> None:
        stash = Stash(store, "/counter")
        for _ in range(perThread):
            with stash.lock:
                value = stash.take(key)
                assert isinstance(value, int)
                stash.put(key, value + 1)

    workers = [threading.Thread(target=increment) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert Stash(store, "/counter").take(key) == threads * perThread


def test_concurrentPutTakeLosesNothing(store: StashStore) -> None:
    """
    Many threads put unique keys while many others race to take all of
    them: every value is taken exactly once, none lost, none twice.
    """
    keys = [newKey() for _ in range(400)]
    taken: List[List[Optional[object]]] = [[] for _ in keys]
    takenLock = threading.Lock()
    putDone = threading.Event()
    errors: List[BaseException] = []

    def putter(part: List[int]) -> None:
        stash = Stash(store, "/race")
        try:
            for i in part:
                stash.put(keys[i], ("value", i))
        except BaseException as e:
            errors.append(e)

    def taker() -> None:
        stash = Stash(store, "/race")
        try:
            while True:
                finished = putDone.is_set()
                for i, key in enumerate(keys):
                    value = stash.take(key)
                    if value is not None:
                        with takenLock:
                            taken[i].append(value)
                if finished:
                    return
        except BaseException as e:
            errors.append(e)

    putters = [
        threading.Thread(target=putter, args=(list(range(n, len(keys), 4)),))
        for n in range(4)
    ]
    takers = [threading.Thread(target=taker) for _ in range(6)]
    for t in takers + putters:
        t.start()
    for t in putters:
        t.join(120)
    putDone.set()
    for t in takers:
        t.join(120)
    assert errors == []
    assert taken == [[("value", i)] for i in range(len(keys))]


def test_concurrentPutsOneWins(store: StashStore) -> None:
    """Of many threads putting the same key at once, exactly one succeeds."""
    key = newKey()
    start = threading.Barrier(8)
    outcomes: List[str] = []

    def putter(n: int) -> None:
        start.wait(30)
        try:
            Stash(store, "/p").put(key, n)
            outcomes.append("stored")
        except StashError:
            outcomes.append("refused")

    workers = [threading.Thread(target=putter, args=(n,)) for n in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert sorted(outcomes) == ["refused"] * 7 + ["stored"]
    assert Stash(store, "/p").take(key) in range(8)


def test_memoryKeepsObjectsAsTheyAre() -> None:
    """The in-memory store keeps any object, unpicklable ones included, by identity."""
    store = MemoryStashStore()
    value = threading.Lock()
    key = newKey()
    Stash(store, "/a").put(key, value)
    assert Stash(store, "/a").take(key) is value


def test_sharedMemoryStore() -> None:
    """
    One process-wide default store: sharedMemoryStore() and the URLs
    None, "" and "memory:" all give the same object.
    """
    shared = sharedMemoryStore()
    assert sharedMemoryStore() is shared
    assert stashStoreFromURL(None) is shared
    assert stashStoreFromURL("") is shared
    assert stashStoreFromURL("memory:") is shared


def test_storeFromRedisURL() -> None:
    """A redis:// URL gives a RedisStashStore for that URL without connecting yet."""
    url = "redis://127.0.0.1:1/3"
    store = stashStoreFromURL(url)
    assert isinstance(store, RedisStashStore)
    assert store.url == url


@pytest.mark.parametrize("url", ["http://x/", "mongodb://x", "nonsense"])
def test_storeFromBadURL(url: str) -> None:
    """A stash URL of an unknown scheme is a ValueError naming it."""
    with pytest.raises(ValueError, match="Unsupported stash URL"):
        stashStoreFromURL(url)


@pytest.mark.parametrize(
    "key",
    [
        "not-a-uuid",
        "",
        "{12345678-1234-5678-1234-567812345678}",
        b"12345678123456781234567812345678",
        b"\xe9" * 16,
        None,
        5,
        1.5,
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ["x"],
    ],
)
@pytest.mark.parametrize("operation", ["put", "take"])
def test_keyRulesMatchWptserve(key: Any, operation: str) -> None:
    """
    For every key, wptserve 4.0.3's own Stash and ours accept the same ones
    and refuse the others with the same exception type and message.
    """
    wptstash = pytest.importorskip("wptserve.stash")
    theirs = wptstash.Stash("/a")
    ours = Stash(MemoryStashStore(), "/a")

    def outcome(stash: Any) -> str:
        try:
            if operation == "take":
                return f"took:{stash.take(key)}"
            stash.put(key, "v")
            return f"stored:{stash.take(key)}"
        except Exception as e:
            return f"{type(e).__name__}: {e}"

    assert outcome(ours) == outcome(theirs)


_PUT_HANDLER = """
def main(request, response):
    key = request.GET.first(b"id")
    request.server.stash.put(key, request.GET.first(b"value"), path="/shared")
    return "stored"
"""

_TAKE_HANDLER = """
def main(request, response):
    value = request.server.stash.take(request.GET.first(b"id"), path="/shared")
    return "missing" if value is None else value
"""


@pytest_twisted.ensureDeferred
async def test_rootsAndPortsShareDefaultStash(tmp_path: Path, serve: Serve) -> None:
    """
    Two HandlerDirectory roots on two listening ports of one process share
    the default stash: a value put through one is taken through the other.
    A root given its own store does not see it.
    """
    roots = []
    for name in ("a", "b", "own"):
        root = tmp_path / name
        root.mkdir()
        (root / "put.py").write_text(_PUT_HANDLER)
        (root / "take.py").write_text(_TAKE_HANDLER)
        roots.append(root)
    first = serve(HandlerDirectory(roots[0]))
    second = serve(HandlerDirectory(roots[1]))
    own = serve(HandlerDirectory(roots[2], stash=MemoryStashStore()))

    async def get(url: str) -> Tuple[int, bytes]:
        response = await treq.get(url, persistent=False)
        return response.code, await response.content()

    key = newKey()
    assert await get(f"{first}/put.py?id={key}&value=v") == (200, b"stored")
    assert await get(f"{own}/take.py?id={key}") == (200, b"missing")
    assert await get(f"{second}/take.py?id={key}") == (200, b"v")
    assert await get(f"{first}/take.py?id={key}") == (200, b"missing")
    assert await get(f"{own}/put.py?id={key}&value=mine") == (200, b"stored")
    assert await get(f"{first}/take.py?id={key}") == (200, b"missing")
    assert await get(f"{own}/take.py?id={key}") == (200, b"mine")
