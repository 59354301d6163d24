"""
The manager-hosted stash (``manager://`` URLs): a store one process hosts
and others use, with the stash's rules holding across real processes (the
SPEC's section 6 rules, and section 9's "one stash" for several servers).
Every other process here is a real child Python process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from typing import Iterator, List

import pytest

from twisted_pyhandlers._stashurl import stashStoreFromURL
from twisted_pyhandlers.managerstash import ManagerStashStore, StashHost
from twisted_pyhandlers.stash import Stash, StashError, StashUnavailable


@pytest.fixture(scope="module")
def host() -> Iterator[StashHost]:
    """A stash host in this process, as the pytest plugin runs it."""
    stashHost = StashHost()
    stashHost.start()
    yield stashHost


def inChildren(url: str, source: str, count: int = 1) -> List[object]:
    """
    Run ``source`` in ``count`` child processes at once, each with
    ``store`` (the store at ``url``) and ``index``; return what each printed
    (one JSON value per child).
    """
    program = "import faulthandler, json, sys\nfaulthandler.dump_traceback_later(25)\nfrom twisted_pyhandlers._stashurl import stashStoreFromURL\n"
    program += "store = stashStoreFromURL(sys.argv[1]); index = int(sys.argv[2])\n"
    program += textwrap.dedent(source)
    children = [
        subprocess.Popen([sys.executable, "-c", program, url, str(i)], stdout=subprocess.PIPE)
        for i in range(count)
    ]
    outputs = []
    for child in children:
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        outputs.append(json.loads(out))
    return outputs


def test_valueCrossesProcesses(host: StashHost) -> None:
    """
    A value put by another process is taken here, as the object it was (any
    picklable value), once; one put here is taken there.
    """
    url = host.url()
    key = str(uuid.uuid4())
    inChildren(url, f"""
        store.put({key!r}, "/p", {{"a": [1, 2], "b": b"bytes"}})
        print(json.dumps(True))
    """)
    store = ManagerStashStore(url)
    assert store.take(key, "/p") == {"a": [1, 2], "b": b"bytes"}
    assert store.take(key, "/p") is None
    store.put(key, "/q", ("tuple", 1))
    assert inChildren(url, f"print(json.dumps(store.take({key!r}, '/q')))") == [["tuple", 1]]


def test_racingTakesNeitherLoseNorDoubleTake(host: StashHost) -> None:
    """
    Four processes race to take the same 200 entries: every entry is taken
    exactly once, by one of them.
    """
    url = host.url()
    store = ManagerStashStore(url)
    keys = [str(uuid.uuid4()) for _ in range(200)]
    for number, key in enumerate(keys):
        store.put(key, "/race", number)
    taken = inChildren(url, f"""
        keys = {keys!r}
        got = [store.take(k, "/race") for k in keys]
        print(json.dumps([g for g in got if g is not None]))
    """, count=4)
    everything = sorted(value for values in taken for value in values)  # type: ignore[attr-defined]
    assert everything == list(range(200))


def test_racingPutsOneWins(host: StashHost) -> None:
    """
    Four processes put under the same key: exactly one succeeds, the others
    get StashError, and the stored value is the winner's.
    """
    url = host.url()
    key = str(uuid.uuid4())
    results = inChildren(url, f"""
        from twisted_pyhandlers.stash import StashError
        try:
            store.put({key!r}, "/p", index)
        except StashError:
            print(json.dumps(None))
        else:
            print(json.dumps(index))
    """, count=4)
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert ManagerStashStore(url).take(key, "/p") == winners[0]


def test_lockExcludesAcrossProcesses(host: StashHost) -> None:
    """
    While this process holds ``stash.lock``, another process cannot acquire
    it; once released, it can.  Stores of different names have different
    locks.
    """
    url = host.url("locked")
    store = ManagerStashStore(url)
    probe = "print(json.dumps(store.lock.acquire(blocking=False)))"
    with store.lock:
        assert inChildren(url, probe) == [False]
        assert inChildren(host.url("other"), probe) == [True]
    assert inChildren(url, probe + "\nstore.lock.release()") == [True]


def test_stashViewKeepsTheRules(host: StashHost) -> None:
    """
    Through the handler-facing :class:`Stash`: keys are normalised UUIDs,
    None and overwrites are refused, as with the in-memory store.
    """
    stash = Stash(ManagerStashStore(host.url()), "/handler.py")
    key = uuid.uuid4()
    stash.put(str(key).upper(), 1)
    with pytest.raises(StashError):
        stash.put(key.hex.encode(), 2)
    with pytest.raises(ValueError):
        stash.put(str(key), None)
    with pytest.raises(ValueError):
        stash.take("not-a-uuid")
    assert stash.take(str(key)) == 1


def test_droppedStoreIsEmpty(host: StashHost) -> None:
    """``drop`` forgets a store's entries (the plugin does it after each test)."""
    url = host.url("dropped")
    store = ManagerStashStore(url)
    key = str(uuid.uuid4())
    store.put(key, "/p", 1)
    host.drop("dropped")
    assert store.take(key, "/p") is None


def test_unreachableHostIsStashUnavailable() -> None:
    """
    A host that is not there (or a wrong key) makes each call raise
    StashUnavailable naming the URL without its key.
    """
    with socketOnFreePort() as port:
        store = ManagerStashStore(f"manager://:sekrit@127.0.0.1:{port}/x")
    with pytest.raises(StashUnavailable, match=r"manager://:\*\*\*@127\.0\.0\.1") as caught:
        store.take(str(uuid.uuid4()), "/")
    assert "sekrit" not in str(caught.value)


def test_wrongKeyIsStashUnavailable(host: StashHost) -> None:
    """A URL with the wrong key is refused by the host: StashUnavailable."""
    assert host.address is not None
    store = ManagerStashStore(f"manager://:wrong@127.0.0.1:{host.address[1]}/x")
    with pytest.raises(StashUnavailable):
        store.take(str(uuid.uuid4()), "/")


@pytest.mark.parametrize(
    "url, message",
    [
        ("manager://127.0.0.1:1/x", "no authentication key"),
        ("manager://:k@127.0.0.1:1/", "no store name"),
        ("manager://:k@127.0.0.1/x", "expected manager://"),
        ("manager://:k@127.0.0.1:notaport/x", "Invalid stash URL"),
    ],
)
def test_badURLsAreValueErrors(url: str, message: str) -> None:
    """A malformed manager URL is a ValueError saying what is missing."""
    with pytest.raises(ValueError, match=message):
        stashStoreFromURL(url)


def test_stashStoreFromURLMakesManagerStores(host: StashHost) -> None:
    """``--stash manager://...`` (and HandlerDirectory(stash=URL)) open the host's store."""
    store = stashStoreFromURL(host.url("named"))
    assert isinstance(store, ManagerStashStore)
    assert store.name == "named"


class socketOnFreePort:
    """A port number nobody listens on (bound, then released)."""

    def __enter__(self) -> int:
        import socket

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        return int(self.socket.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.socket.close()


def test_hostingProcessCallsItsStoresDirectly(host: StashHost) -> None:
    """
    In the process that hosts the stores, a ManagerStashStore calls them
    directly and never holds a manager proxy: a proxy freed there by the
    garbage collector would connect to the host from whichever thread the
    collector ran in, and deadlock when that is the host's accepting thread
    (seen in the full suite before this rule).
    """
    store = ManagerStashStore(host.url())
    key = str(uuid.uuid4())
    store.put(key, "/p", 1)
    with store.lock:
        assert store.take(key, "/p") == 1
    assert store._proxy is None
