"""
A :class:`~twisted_pyhandlers.stash.StashStore` hosted by one process and
reached by others through :mod:`multiprocessing.managers`, the way wptserve
shares its own stash between its servers.

One process runs a :class:`StashHost`: a manager server, in a thread of that
process, holding any number of named in-memory stores.  Any process that
knows its URL, ``manager://:AUTHKEY@127.0.0.1:PORT/NAME``, opens the store
``NAME`` with :class:`ManagerStashStore` (or ``--stash URL``).  The pytest
plugin's servers share one this way with the test that started them.

The rules hold across processes because every call runs in the host:

- ``put`` and ``take`` are one call each on the host's
  :class:`~twisted_pyhandlers.stash.MemoryStashStore`, which is atomic: of
  two racing puts exactly one wins, a value is taken at most once;
- ``lock`` is a :class:`threading.Lock` in the host, acquired and released
  by calls from the other processes, so it excludes across them;
- values are pickled by the process that puts them and unpickled by the one
  that takes them (the host keeps the bytes and never unpickles a value), so
  they may be any object :mod:`pickle` can carry, as with the Redis store.

The authentication key in the URL is the one secret: whoever has the URL may
run code in the host (the manager protocol unpickles), so the host listens on
loopback only and makes a random key.  Every call blocks on a local socket:
call the store from handler threads (or a test), never from the reactor
thread.
"""

from __future__ import annotations

import pickle
import secrets
import threading
import uuid
from multiprocessing import AuthenticationError
from multiprocessing.managers import BaseManager, BaseProxy
from types import TracebackType
from typing import Any, Dict, Optional, Tuple, Type
from urllib.parse import urlsplit

from twisted_pyhandlers.stash import MemoryStashStore, StashLock, StashUnavailable

__all__ = ["ManagerStashStore", "StashHost"]


class _Stores:
    """
    The object the host's manager serves: named in-memory stores, made on
    first use.  Runs in the host's manager threads (one per connection).
    """

    def __init__(self) -> None:
        self._stores: Dict[str, MemoryStashStore] = {}
        self._mutex = threading.Lock()

    def _store(self, name: str) -> MemoryStashStore:
        with self._mutex:
            store = self._stores.get(name)
            if store is None:
                store = self._stores[name] = MemoryStashStore()
            return store

    def put(self, name: str, key: str, path: str, value: object) -> None:
        self._store(name).put(key, path, value)

    def take(self, name: str, key: str, path: str) -> Optional[object]:
        return self._store(name).take(key, path)

    def acquire(self, name: str, blocking: bool, timeout: float) -> bool:
        return self._store(name).lock.acquire(blocking, timeout)

    def release(self, name: str) -> None:
        self._store(name).lock.release()

    def drop(self, name: str) -> None:
        with self._mutex:
            self._stores.pop(name, None)


#: The stores of every :class:`StashHost` started in this process, by
#: (address, key).  A :class:`ManagerStashStore` for one of them calls it
#: directly: a manager proxy in the hosting process would be freed by the
#: garbage collector in whatever thread it runs in, and its finaliser
#: connects to the host and waits, which deadlocks when that thread is the
#: host's own accepting thread.
_localHosts: Dict[Tuple[Tuple[str, int], bytes], _Stores] = {}


class _HostManager(BaseManager):
    """The manager type both sides register ``stores`` on."""


def _parseURL(url: str) -> Tuple[Tuple[str, int], bytes, str]:
    """
    ``(address, authkey, name)`` from a ``manager://`` URL.

    :raises ValueError: naming the URL (key redacted) for any malformed part.
    """
    parts = urlsplit(url)
    shown = redactedURL(url)
    try:
        port = parts.port
    except ValueError as e:
        raise ValueError(f"Invalid stash URL {shown!r}: {e}") from e
    if parts.scheme != "manager" or not parts.hostname or port is None:
        raise ValueError(f"Invalid stash URL {shown!r}: expected manager://:KEY@HOST:PORT/NAME")
    if not parts.password:
        raise ValueError(f"Invalid stash URL {shown!r}: no authentication key")
    name = parts.path.lstrip("/")
    if not name:
        raise ValueError(f"Invalid stash URL {shown!r}: no store name")
    return (parts.hostname, port), parts.password.encode("ascii"), name


def redactedURL(url: str) -> str:
    """``url`` with its authentication key replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


class ManagerStashStore:
    """
    The store ``NAME`` of the :class:`StashHost` named by ``url``.

    Making one does not connect; the first call does.  Any thread may call
    it (each thread gets its own connection to the host).  When the host
    cannot be reached every call raises
    :class:`~twisted_pyhandlers.stash.StashUnavailable` naming the URL (the
    key left out).

    :param url: ``manager://:AUTHKEY@HOST:PORT/NAME``.
    """

    def __init__(self, url: str) -> None:
        self._address, self._authkey, self.name = _parseURL(url)
        self.url = redactedURL(url)
        self._mutex = threading.Lock()
        self._proxy: Optional[Any] = None
        self._lock = _ManagerLock(self)

    def _call(self, method: str, *args: Any) -> Any:
        """Call ``method`` of the host's stores.  Blocking; any thread."""
        local = _localHosts.get((self._address, self._authkey))
        # The same call by name on the host's stores or on their proxy
        # (multiprocessing's managers dispatch by method name).
        if local is not None:
            return getattr(local, method)(self.name, *args)
        try:
            with self._mutex:
                if self._proxy is None:
                    manager = _HostManager(address=self._address, authkey=self._authkey)
                    manager.connect()
                    self._proxy = manager.stores()  # type: ignore[attr-defined]
                proxy = self._proxy
            return getattr(proxy, method)(self.name, *args)
        except (OSError, EOFError, AuthenticationError) as e:
            with self._mutex:
                self._proxy = None
            raise StashUnavailable(f"Stash {self.url} cannot be reached: {e}") from e

    def put(self, key: str, path: str, value: object) -> None:
        """
        Store ``value`` unless an entry exists.  Blocking; any thread.

        :raises StashError: if an entry exists for (``path``, ``key``).
        """
        self._call("put", key, path, pickle.dumps(value))

    def take(self, key: str, path: str) -> Optional[object]:
        """Remove and return the entry, or None.  Blocking; any thread."""
        pickled = self._call("take", key, path)
        return None if pickled is None else pickle.loads(pickled)

    @property
    def lock(self) -> StashLock:
        """A lock held in the host: it excludes across every process."""
        return self._lock


class _ManagerLock:
    """``stash.lock`` of a :class:`ManagerStashStore`: not reentrant."""

    def __init__(self, store: ManagerStashStore) -> None:
        self._store = store

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Wait for the host's lock (any thread); return whether it is held."""
        return bool(self._store._call("acquire", blocking, timeout))

    def release(self) -> None:
        """Release the host's lock."""
        self._store._call("release")

    def __enter__(self) -> _ManagerLock:
        self.acquire()
        return self

    def __exit__(
        self,
        excType: Optional[Type[BaseException]],
        excValue: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.release()


class StashHost:
    """
    Hosts named stores for other processes: a manager server listening on
    ``127.0.0.1`` (a free port by default), served by daemon threads of this
    process from :meth:`start` on.

    :ivar address: ``(host, port)`` it listens on, once started.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._stores = _Stores()
        self._authkey = secrets.token_hex(16)
        self._requested = (host, port)
        self._server: Optional[Any] = None
        self.address: Optional[Tuple[str, int]] = None

    def start(self) -> None:
        """Listen and serve in a daemon thread.  Any thread; once."""
        stores = self._stores

        class Manager(_HostManager):
            pass

        Manager.register("stores", callable=lambda: stores, proxytype=_StoresProxy)
        manager = Manager(address=self._requested, authkey=self._authkey.encode("ascii"))
        self._server = manager.get_server()
        address: Any = self._server.address
        self.address = (str(address[0]), int(address[1]))
        _localHosts[(self.address, self._authkey.encode("ascii"))] = stores
        thread = threading.Thread(
            target=self._server.serve_forever, name="twisted_pyhandlers-stash-host", daemon=True
        )
        thread.start()

    def url(self, name: Optional[str] = None) -> str:
        """The stash URL of store ``name`` (a new random name by default)."""
        if self.address is None:
            raise RuntimeError("StashHost.url() before start()")
        host, port = self.address
        return f"manager://:{self._authkey}@{host}:{port}/{name or uuid.uuid4().hex}"

    def drop(self, name: str) -> None:
        """Forget store ``name`` and everything in it.  Any thread."""
        self._stores.drop(name)


class _StoresProxy(BaseProxy):
    """The client side of :class:`_Stores`: its five methods, by value."""

    _exposed_ = ("put", "take", "acquire", "release", "drop")

    def put(self, name: str, key: str, path: str, value: object) -> None:
        self._callmethod("put", (name, key, path, value))

    def take(self, name: str, key: str, path: str) -> Optional[object]:
        call: Any = self._callmethod
        return call("take", (name, key, path))

    def acquire(self, name: str, blocking: bool, timeout: float) -> bool:
        call: Any = self._callmethod
        return bool(call("acquire", (name, blocking, timeout)))

    def release(self, name: str) -> None:
        self._callmethod("release", (name,))

    def drop(self, name: str) -> None:
        self._callmethod("drop", (name,))


_HostManager.register("stores", proxytype=_StoresProxy)
