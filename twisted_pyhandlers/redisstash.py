"""
A :class:`~twisted_pyhandlers.stash.StashStore` on Redis, so that several
server processes (one per port, one per core, or several hosts behind a
balancer) share one stash.

The semantics are the in-process store's, made atomic on the Redis side so
that they hold across processes:

- ``put`` is ``SET key value NX``: of two racing puts exactly one wins, the
  other gets :class:`~twisted_pyhandlers.stash.StashError`;
- ``take`` is ``GET`` and ``DEL`` in one ``MULTI``/``EXEC`` transaction:
  under any concurrency a value is taken at most once (this works on every
  Redis version, unlike ``GETDEL`` which needs 6.2);
- ``lock`` is a :class:`redis.lock.Lock` with a timeout, so that a process
  that dies holding it cannot hold it forever;
- values are pickled, so they may be any object :mod:`pickle` can carry.

Every call blocks on the network: the store is used from handler threads,
never from the reactor thread.  The client's connection pool is shared by all
of those threads.  When Redis cannot be reached, every call raises
:class:`~twisted_pyhandlers.stash.StashUnavailable` naming the stash URL, and
the next call after Redis is back works again (the pool reconnects).
"""

from __future__ import annotations

import pickle
from types import TracebackType
from typing import Any, Callable, Optional, Type, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, LockNotOwnedError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.lock import Lock
from redis.retry import Retry

from twisted_pyhandlers._encoding import isomorphic_encode
from twisted_pyhandlers.stash import StashError, StashUnavailable

__all__ = ["RedisStashStore", "redactURL"]

_T = TypeVar("_T")

DEFAULT_PREFIX = "twisted_pyhandlers:stash:"
DEFAULT_LOCK_TIMEOUT = 60.0


def redactURL(url: str) -> str:
    """
    ``url`` with any password replaced by ``***``, for messages and logs.
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{user}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RedisStashStore:
    """
    The stash on a Redis server named by ``url``.

    Creating the store does not connect; the first call does, from a
    handler thread.

    :param url: ``redis://[[user]:password@]host:port/db``,
        ``rediss://...`` (TLS) or ``unix:///path/to/socket?db=N``, as
        :meth:`redis.ConnectionPool.from_url` reads it (query parameters such
        as ``socket_timeout`` included).
    :param lockTimeout: seconds after which ``stash.lock`` is released by
        Redis if its holder has not released it (a crashed process, or a
        handler that holds it too long; its ``release`` then raises
        :class:`~twisted_pyhandlers.stash.StashError`).
    :param prefix: prepended to every Redis key this store uses, so that
        several independent deployments may share one Redis database.
    :param connectTimeout: seconds to wait for a connection to Redis before
        calling it unreachable (unless the URL sets
        ``socket_connect_timeout``).
    """

    def __init__(
        self,
        url: str,
        *,
        lockTimeout: float = DEFAULT_LOCK_TIMEOUT,
        prefix: str = DEFAULT_PREFIX,
        connectTimeout: float = 5.0,
    ) -> None:
        self.url = url
        self._prefix = prefix.encode("utf-8")
        query = urlsplit(url).query
        kwargs: dict[str, Any] = {
            # One quick retry without back-off: a pooled connection that went
            # stale while Redis restarted is replaced at once, and an
            # unreachable Redis is reported at once instead of after seconds
            # of back-off in a handler thread.
            "retry": Retry(NoBackoff(), 1),
            "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        }
        if "socket_connect_timeout" not in query:
            kwargs["socket_connect_timeout"] = connectTimeout
        if "socket_timeout" not in query:
            # A command must not hang a handler thread for ever on a Redis
            # that accepted the connection and went silent.
            kwargs["socket_timeout"] = max(connectTimeout, 30.0)
        if "health_check_interval" not in query:
            kwargs["health_check_interval"] = 30
        try:
            self._pool = redis.ConnectionPool.from_url(url, **kwargs)
        except (ValueError, TypeError) as e:
            raise ValueError(f"Invalid stash URL {redactURL(url)!r}: {e}") from e
        self._client = redis.Redis(connection_pool=self._pool)
        self._lock = _RedisStashLock(self, lockTimeout)

    def __repr__(self) -> str:
        return f"<RedisStashStore {redactURL(self.url)}>"

    def _unavailable(self, error: BaseException) -> StashUnavailable:
        return StashUnavailable(f"stash {redactURL(self.url)} is unreachable: {error}")

    def _call(self, f: Callable[[], _T]) -> _T:
        """
        Run the blocking Redis operation ``f`` in the calling (handler)
        thread, turning any Redis failure into a message that names the
        stash URL.
        """
        try:
            return f()
        except (RedisConnectionError, RedisTimeoutError, OSError) as e:
            raise self._unavailable(e) from e
        except RedisError as e:
            if isinstance(e, LockError):
                raise
            raise StashUnavailable(f"stash {redactURL(self.url)} failed: {e}") from e

    def _redisKey(self, key: str, path: str) -> bytes:
        # The UUID has a fixed length, so putting it before the path keeps
        # the (path, key) -> Redis key mapping unambiguous whatever the path
        # holds.
        return self._prefix + key.encode("ascii") + b":" + isomorphic_encode(path)

    def put(self, key: str, path: str, value: object) -> None:
        """
        Store ``value`` (pickled) unless an entry exists, atomically across
        every process sharing the Redis database.  Runs in a handler thread.

        :raises StashError: if an entry exists.
        :raises TypeError: if ``value`` cannot be pickled.
        :raises StashUnavailable: if Redis cannot be reached.
        """
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            raise TypeError(
                f"Values in the Redis stash {redactURL(self.url)} must be "
                f"picklable; {value!r} is not: {e}"
            ) from e
        redisKey = self._redisKey(key, path)
        stored = self._call(lambda: self._client.set(redisKey, data, nx=True))
        if not stored:
            raise StashError(
                f"Tried to overwrite existing shared stash value for key "
                f"{key!r} at path {path!r} (new value is {value!r})"
            )

    def take(self, key: str, path: str) -> Optional[object]:
        """
        Remove and return the entry, or None.  GET and DEL run in one
        MULTI/EXEC transaction, so a value is taken at most once however
        many processes race for it.  Runs in a handler thread.

        :raises StashUnavailable: if Redis cannot be reached.
        """
        redisKey = self._redisKey(key, path)

        def getAndDelete() -> Any:
            pipe = self._client.pipeline(transaction=True)
            pipe.get(redisKey)
            pipe.delete(redisKey)
            return pipe.execute()[0]

        data = self._call(getAndDelete)
        if data is None:
            return None
        return pickle.loads(data)

    def ping(self) -> None:
        """
        Check that Redis answers (a ``PING``).  Blocks: a thread other than
        the reactor's.

        :raises StashUnavailable: naming the (redacted) URL, if it does not.
        """
        self._call(self._client.ping)

    @property
    def lock(self) -> _RedisStashLock:
        """The Redis lock shared by every process using this database."""
        return self._lock

    def close(self) -> None:
        """
        Close the pooled connections.  Runs in any thread; later calls
        reconnect.
        """
        self._pool.disconnect()


class _RedisStashLock:
    """
    ``stash.lock`` on Redis: a :class:`threading.Lock`-like object over one
    :class:`redis.lock.Lock` shared by all handler threads (its token is
    thread-local, so each thread holds and releases its own acquisition).

    Its methods block on the network and run in handler threads.
    """

    def __init__(self, store: RedisStashStore, timeout: float) -> None:
        self._store = store
        self.timeout = timeout
        self._lock: Lock = store._client.lock(
            (store._prefix + b"lock").decode("utf-8"),
            timeout=timeout,
            thread_local=True,
        )

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """
        Acquire the lock, like :meth:`threading.Lock.acquire`: wait for ever
        (bounded in practice by the holder's lock timeout), not at all
        (``blocking=False``) or ``timeout`` seconds.
        """
        blockingTimeout = None if timeout is None or timeout < 0 else timeout
        return bool(
            self._store._call(
                lambda: self._lock.acquire(
                    blocking=blocking, blocking_timeout=blockingTimeout
                )
            )
        )

    def release(self) -> None:
        """
        Release the lock held by this thread.

        :raises StashError: if this thread does not hold it any more (the
            lock timeout passed and Redis let it go).
        """
        try:
            self._store._call(self._lock.release)
        except LockNotOwnedError as e:
            raise StashError(
                f"stash.lock on {redactURL(self._store.url)} was not held any "
                f"more when released: it expired after {self.timeout} s"
            ) from e
        except LockError as e:
            raise StashError(f"stash.lock on {redactURL(self._store.url)}: {e}") from e

    def locked(self) -> bool:
        """Whether any process holds the lock."""
        return bool(self._store._call(self._lock.locked))

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        __excType: Optional[Type[BaseException]],
        __excValue: Optional[BaseException],
        __traceback: Optional[TracebackType],
    ) -> None:
        self.release()
