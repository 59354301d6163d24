"""
Stash URLs (``--stash``, ``HandlerDirectory(stash=...)``) and the store each
names.

This is where URLs are read, so it is the one module that knows every
backend: the base :mod:`twisted_pyhandlers.stash` module knows none of them,
and a backend module knows only itself.
"""

from __future__ import annotations

from typing import Optional

from twisted_pyhandlers.stash import StashStore, sharedMemoryStore


def stashStoreFromURL(url: Optional[str]) -> StashStore:
    """
    The store a stash URL names.  Any thread; it does not connect.

    - None, ``""`` or ``memory:``: the process-wide in-memory store
      (:func:`~twisted_pyhandlers.stash.sharedMemoryStore`);
    - ``redis://[:password@]host:port/db``, ``rediss://...`` (TLS) or
      ``unix:///path/to/socket?db=N``: a
      :class:`~twisted_pyhandlers.redisstash.RedisStashStore`; making it does
      not connect, the first stash call does;
    - ``manager://:KEY@HOST:PORT/NAME``: a
      :class:`~twisted_pyhandlers.managerstash.ManagerStashStore`, the store
      ``NAME`` of another process's
      :class:`~twisted_pyhandlers.managerstash.StashHost`; making it does not
      connect either.

    :raises ValueError: for any other scheme.
    """
    if url is None or url in ("", "memory:", "memory://"):
        return sharedMemoryStore()
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        # Imported only for a Redis URL: the redis client is not needed (or
        # loaded) by a server with an in-memory stash.
        from twisted_pyhandlers.redisstash import RedisStashStore

        return RedisStashStore(url)
    if scheme == "manager":
        from twisted_pyhandlers.managerstash import ManagerStashStore

        return ManagerStashStore(url)
    raise ValueError(
        f"Unsupported stash URL {url!r}: use memory:, redis://host:port/db or manager://:KEY@HOST:PORT/NAME"
    )
