"""
``wptserve.stash`` for handlers: the stash type, its error, and the
``WPT_STASH_CONFIG`` functions WebSocket handlers use to reach the server's
stash.

A ``*_wsh.py`` handler has no ``request.server`` on wptserve, so WPT's
handlers build their own stash::

    from wptserve import stash
    address, authkey = stash.load_env_config()
    stash = stash.Stash("msg_channel", address=address, authkey=authkey)

On wptserve, ``address`` and ``authkey`` name its ``multiprocessing``
manager.  Here the server records its own stash store under an address of
this process (:func:`storeAddress`, called when the WebSocket handlers are
loaded) and :func:`store_env_config` puts that address in
``WPT_STASH_CONFIG``, so the same three lines give a :class:`Stash` on the
very store ``request.server.stash`` uses: values put by an HTTP handler
are taken by a WebSocket handler and the other way round.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from typing import Any, Dict, Optional, Tuple, Union

from twisted_pyhandlers._encoding import isomorphic_encode
from twisted_pyhandlers.stash import Stash as _BaseStash
from twisted_pyhandlers.stash import StashError, StashStore, sharedMemoryStore

__all__ = ["Stash", "StashError", "isomorphic_encode", "load_env_config", "store_env_config"]

#: The environment variable wptserve keeps its stash address in.
_ENVIRONMENT = "WPT_STASH_CONFIG"

#: Addresses of the stores of this process begin with this.
_PREFIX = "twisted_pyhandlers-stash:"

_stores: Dict[str, StashStore] = {}
_storesLock = threading.Lock()


def storeAddress(store: StashStore) -> str:
    """
    The address under which :class:`Stash` finds ``store`` in this process
    (the same address for the same store every time).  Any thread.
    """
    address = f"{_PREFIX}{id(store):x}"
    with _storesLock:
        _stores[address] = store
    return address


def store_env_config(address: Union[str, Tuple[str, int]], authkey: bytes) -> None:
    """Put ``address`` and ``authkey`` in ``WPT_STASH_CONFIG``, as wptserve does."""
    encoded = base64.b64encode(authkey).decode("ascii")
    os.environ[_ENVIRONMENT] = json.dumps((address, encoded))


def load_env_config() -> Tuple[Union[str, Tuple[Any, ...]], bytes]:
    """
    The ``(address, authkey)`` in ``WPT_STASH_CONFIG``, as wptserve reads it.

    :raises KeyError: if the variable is not set (as on wptserve).
    """
    address, authkey = json.loads(os.environ[_ENVIRONMENT])
    if isinstance(address, list):
        address = tuple(address)
    else:
        address = str(address)
    return address, base64.b64decode(authkey)


class Stash(_BaseStash):
    """
    wptserve's ``Stash(default_path, address=None, authkey=None)`` over the
    server's stores: the rules and methods are those of
    :class:`twisted_pyhandlers.stash.Stash` (``put``, ``take``, ``lock``,
    ``get_queue``).

    :param address: ``None``: the process-wide in-memory store; an address
        from ``load_env_config()``: the store recorded under it.
    :raises StashError: for an address that names no store of this process
        (such as a real wptserve's manager).
    """

    def __init__(
        self,
        default_path: Union[str, bytes],
        address: Optional[Union[str, Tuple[Any, ...]]] = None,
        authkey: Optional[bytes] = None,
    ) -> None:
        if address is None:
            store: StashStore = sharedMemoryStore()
        else:
            with _storesLock:
                found = _stores.get(address) if isinstance(address, str) else None
            if found is None:
                raise StashError(
                    f"no stash at {address!r} in this process: twisted_pyhandlers serves its own stash "
                    f"(the address {_ENVIRONMENT} holds while it serves WebSocket handlers)"
                )
            store = found
        super().__init__(store, default_path)
