"""
The stash: ``request.server.stash``, a write-once, read-once store shared by
every request of a server (and, backed by Redis, by many server processes).

Handler suites use it to hand a value from one request to a later one, often
made from another page, port or origin: one request ``put``\\ s a value under
a UUID, a later one ``take``\\ s it, which removes it.  The rules are
wptserve's (``wptserve/stash.py``):

- keys are UUIDs, given as ``str`` or ``bytes`` in any form
  :class:`uuid.UUID` accepts; two spellings of the same UUID are the same
  key; anything else raises what wptserve raises (see :func:`normaliseKey`);
- every entry is scoped by a path: by default the URL path of the request
  that uses the stash, so that two resources cannot see each other's values
  unless one names the other's path with ``path=``; ``str`` and ``bytes``
  paths are the same when their ISO-8859-1 encodings are;
- ``put`` refuses ``None`` (:class:`ValueError`) and refuses to overwrite an
  entry (:class:`StashError`);
- ``take`` returns the value and removes it, or returns ``None``;
- ``lock`` is one lock shared by every request using the store;
- ``get_queue()`` makes a queue to keep in the stash (WebSocket handlers
  hand messages between connections through one), with the in-memory store.

Two layers keep those rules in one place.  A :class:`StashStore` is the
shared storage, one per server (or per cluster): it sees keys already
normalised.  A :class:`Stash` is the cheap per-request view a handler sees:
it checks and normalises keys and fills in the request's path, then calls the
store.  Store methods block, so they are called from handler threads, never
from the reactor thread.
"""

from __future__ import annotations

import queue
import threading
import uuid
from types import TracebackType
from typing import Any, Dict, Optional, Protocol, Tuple, Type, Union, runtime_checkable

from twisted_pyhandlers._encoding import isomorphic_decode, isomorphic_encode

__all__ = [
    "MemoryStashStore",
    "Stash",
    "StashError",
    "StashLock",
    "StashStore",
    "StashUnavailable",
    "sharedMemoryStore",
]


class StashError(Exception):
    """
    Raised by ``put`` when an entry already exists for the key and path
    (wptserve's name, so handlers that catch it keep working).
    """


class StashUnavailable(Exception):
    """
    Raised by any stash call when the shared store cannot be reached (Redis
    down or unreachable).  The message names the stash URL, so the 500 a
    handler's request gets says where to look.

    It is deliberately not a :class:`StashError`: a handler that catches
    ``StashError`` to ignore a duplicate ``put`` must not silently swallow an
    outage.
    """


class StashLock(Protocol):
    """
    The lock handlers see as ``stash.lock``: ``with stash.lock: ...`` or
    ``acquire()`` / ``release()`` from the same thread, like
    :class:`threading.Lock`.
    """

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """
        Acquire the lock in the calling (handler) thread: wait until it is
        held, not at all (``blocking=False``) or ``timeout`` seconds; return
        whether it is held.
        """

    def release(self) -> None:
        """Release the lock held by the calling thread."""

    def __enter__(self) -> Any:
        """Acquire the lock."""

    def __exit__(
        self,
        __excType: Optional[Type[BaseException]],
        __excValue: Optional[BaseException],
        __traceback: Optional[TracebackType],
    ) -> Optional[bool]:
        """Release the lock."""


class StashStore(Protocol):
    """
    Shared storage behind :class:`Stash`.

    Keys arrive normalised by :class:`Stash`: ``key`` is the canonical
    lower-case hyphenated form of a UUID, ``path`` is a ``str`` whose code
    points are all below 256 (the ISO-8859-1 decoding of the path bytes).
    Every method may block: call them from handler threads only.
    """

    def put(self, key: str, path: str, value: object) -> None:
        """
        Store ``value`` under (``path``, ``key``) unless an entry is there.

        :raises StashError: if an entry exists; the existing entry is kept.
        :raises StashUnavailable: if the store cannot be reached.
        """

    def take(self, key: str, path: str) -> Optional[object]:
        """
        Atomically remove and return the entry under (``path``, ``key``), or
        return None.  Under concurrent calls exactly one caller gets it.

        :raises StashUnavailable: if the store cannot be reached.
        """

    @property
    def lock(self) -> StashLock:
        """The lock shared by every request using this store."""


@runtime_checkable
class QueueStore(Protocol):
    """
    A :class:`StashStore` that can make queues for ``stash.get_queue()``
    (the in-memory store; a queue cannot be shared between processes).
    """

    def makeQueue(self) -> "queue.Queue[Any]":
        """A new queue, usable from every handler thread."""


@runtime_checkable
class RemoteStore(Protocol):
    """
    A :class:`StashStore` that lives elsewhere (Redis): the server checks
    at start-up that it answers.
    """

    def ping(self) -> None:
        """Return if the store answers; raise :class:`StashUnavailable`, naming it, if not."""


class MemoryStashStore:
    """
    A thread-safe in-process store: the default.

    Values are kept as the objects they are (no copy, no pickling), exactly
    as wptserve's in-process stash keeps them.  An internal mutex makes
    ``put`` and ``take`` atomic; it is not the lock handlers see, so a
    handler may call ``put``/``take`` while holding ``stash.lock``.
    """

    def __init__(self) -> None:
        self._entries: Dict[Tuple[str, str], object] = {}
        self._mutex = threading.Lock()
        self._lock = threading.Lock()

    def put(self, key: str, path: str, value: object) -> None:
        """
        Store ``value`` unless an entry exists.  Runs in any thread.

        :raises StashError: if an entry exists for (``path``, ``key``).
        """
        with self._mutex:
            if (path, key) in self._entries:
                existing = self._entries[(path, key)]
                raise StashError(
                    f"Tried to overwrite existing shared stash value for key "
                    f"{key!r} at path {path!r} (old value was {existing!r}, "
                    f"new value is {value!r})"
                )
            self._entries[(path, key)] = value

    def take(self, key: str, path: str) -> Optional[object]:
        """Remove and return the entry, or None.  Runs in any thread."""
        with self._mutex:
            return self._entries.pop((path, key), None)

    @property
    def lock(self) -> StashLock:
        """
        A :class:`threading.Lock`, like wptserve's in-process ``Stash.lock``
        (not reentrant: a thread that holds it and acquires again blocks).
        """
        return self._lock

    def makeQueue(self) -> "queue.Queue[Any]":
        """
        A new :class:`queue.Queue` for ``stash.get_queue()``: kept in this
        store as the very object, it is shared by every thread of the
        process, as wptserve's manager queue is by its processes.  Any
        thread.
        """
        return queue.Queue()

    def __len__(self) -> int:
        """How many entries are stored (for tests and introspection)."""
        with self._mutex:
            return len(self._entries)


_sharedStore: Optional[MemoryStashStore] = None
_sharedStoreMutex = threading.Lock()


def sharedMemoryStore() -> MemoryStashStore:
    """
    The one process-wide in-memory store, created on first use.

    Every :class:`~twisted_pyhandlers.HandlerDirectory` that is not handed a
    store of its own uses this one, so several roots and listening ports in
    one process share one stash, as wptserve's servers do.
    """
    global _sharedStore
    with _sharedStoreMutex:
        if _sharedStore is None:
            _sharedStore = MemoryStashStore()
        return _sharedStore


def normaliseKey(key: Union[str, bytes]) -> str:
    """
    The canonical form of a stash key, by wptserve's rules and with its
    errors: bytes are decoded as ASCII, then parsed by :class:`uuid.UUID`
    (so ``{...}``, ``urn:uuid:...`` and undashed hex spell the same key).

    What is not a UUID fails as it fails on wptserve 4.0.3, same type, same
    message, so a handler's 500 reads the same:

    :raises UnicodeDecodeError: for bytes that are not ASCII (a ValueError).
    :raises ValueError: ``Invalid UUID "..." used as stash key``, for a
        str that is no UUID.
    :raises TypeError: for None (``uuid.UUID``'s "one of the hex, bytes,
        bytes_le, fields, or int arguments must be given").
    :raises AttributeError: for any other type (an int, a
        :class:`uuid.UUID` object...): ``uuid.UUID`` calls ``.replace`` on it.
    """
    if isinstance(key, bytes):
        # UUIDs are ASCII; wptserve lets the UnicodeDecodeError through.
        key = key.decode("ascii")
    try:
        return str(uuid.UUID(key))
    except ValueError as e:
        raise ValueError(f'Invalid UUID "{key}" used as stash key') from e


def normalisePath(path: Union[str, bytes]) -> str:
    """
    The canonical form of a stash path: the ISO-8859-1 decoding of its
    ISO-8859-1 encoding, so ``b"/a"`` and ``"/a"`` are one path (wptserve
    compares ``isomorphic_encode(path)``).

    :raises ValueError: for a str with code points above 255.
    :raises TypeError: for anything but str or bytes.
    """
    return isomorphic_decode(isomorphic_encode(path))


class Stash:
    """
    The per-request view handlers see as ``request.server.stash``; the
    method names and arguments are wptserve's.

    Creating one is cheap (no I/O): the request object makes one per
    request with that request's URL path as ``defaultPath``.  All methods
    block on the store and so run in the handler's thread.

    :ivar store: the shared :class:`StashStore`.
    :ivar default_path: the path used when a call gives none (wptserve's
        attribute name).
    """

    def __init__(self, store: StashStore, defaultPath: Union[str, bytes]) -> None:
        self.store = store
        self.default_path = defaultPath

    def _wrap(
        self, key: Union[str, bytes], path: Optional[Union[str, bytes]]
    ) -> Tuple[str, str]:
        if path is None:
            path = self.default_path
        return normaliseKey(key), normalisePath(path)

    def put(
        self,
        key: Union[str, bytes],
        value: object,
        path: Optional[Union[str, bytes]] = None,
    ) -> None:
        """
        Place ``value`` in the shared stash under ``key``, readable by
        ``path`` (by default the current request's path).

        :raises ValueError: if ``value`` is None or ``key`` is not a UUID
            (other key errors: see :func:`normaliseKey`).
        :raises StashError: if an entry exists already.
        :raises StashUnavailable: if the shared store cannot be reached.
        """
        if value is None:
            raise ValueError("SharedStash value may not be set to None")
        k, p = self._wrap(key, path)
        self.store.put(k, p, value)

    def take(
        self, key: Union[str, bytes], path: Optional[Union[str, bytes]] = None
    ) -> Optional[object]:
        """
        Remove the value stored under ``key`` for ``path`` (by default the
        current request's path) and return it, or return None.

        :raises ValueError: if ``key`` is not a UUID (other key errors: see
            :func:`normaliseKey`).
        :raises StashUnavailable: if the shared store cannot be reached.
        """
        k, p = self._wrap(key, path)
        return self.store.take(k, p)

    @property
    def lock(self) -> StashLock:
        """The lock shared by all requests (and processes) using the store."""
        return self.store.lock

    def get_queue(self) -> "queue.Queue[Any]":
        """
        A new queue that can be put in the stash and used from every handler
        thread (wptserve's name).  Stores that can make one are a
        :class:`QueueStore`: the in-memory store is; a store shared
        between processes (Redis) does not, as a queue object cannot be
        pickled.

        :raises StashError: if the store cannot make queues.
        """
        store = self.store
        if not isinstance(store, QueueStore):
            raise StashError(
                f"stash.get_queue() needs the in-memory stash: {type(store).__name__} "
                "cannot share a queue between processes"
            )
        return store.makeQueue()
