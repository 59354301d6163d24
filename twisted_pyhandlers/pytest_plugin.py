"""
The pytest plugin: fixtures for testing your own handlers (and the clients
that talk to them).  Installed with the package (the ``pytest11`` entry point
``pyhandlers``); no ``conftest.py`` needed.

``pyhandlers(root, **options)``
    starts a real server on ``root``, in a child process, on a free loopback
    port, and returns a :class:`~twisted_pyhandlers._childserver.ChildServer`
    (``url(path)``, ``base_url``, ``port``, ``stash``, ``config``,
    ``requests``).  Usable from plain synchronous tests and from
    pytest-twisted tests alike.  Every server of a test shares one stash with
    the test; all stop when the test ends.

``pyhandlers_stubtreq(root, **options)``
    an in-memory :class:`treq.testing.StubTreq` client over ``root``
    (:func:`twisted_pyhandlers.testing.memoryClient`): no sockets, no
    threads, no child process.

See the "Testing your handlers" page of the documentation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator, List, Mapping, Optional, Union

import pytest

from twisted_pyhandlers._childserver import ChildServer, ServerStartError
from twisted_pyhandlers.managerstash import StashHost

__all__ = ["pyhandlers", "pyhandlers_stubtreq"]

Root = Union[str, "os.PathLike[str]"]
Config = Union[str, "os.PathLike[str]", Mapping[str, Any], None]


@pytest.fixture(scope="session")
def _pyhandlers_stash_host() -> StashHost:
    """One stash host per test session, serving a fresh store to each test."""
    host = StashHost()
    host.start()
    return host


@pytest.fixture
def pyhandlers(
    tmp_path_factory: pytest.TempPathFactory, _pyhandlers_stash_host: StashHost
) -> Iterator[Callable[..., ChildServer]]:
    """
    ``pyhandlers(root, *, stash=None, config=None, host=None, tls=False)``
    starts a server on ``root`` and returns it.

    :param stash: a stash URL both the test and the server can reach (e.g.
        ``redis://127.0.0.1:6379/0``); by default a store shared by the
        test and all its servers, emptied after the test.
    :param config: a wptserve-style config, as a JSON file's path or a dict.
    :param host: the host name handlers see as ``browser_host``.
    :param tls: serve HTTPS (HTTP/1.1) with a made certificate; the
        server's ``ca`` is the CA's PEM file for the client's ``verify=``,
        ``spkiPin`` the pin a browser can be given.
    """
    stashHost = _pyhandlers_stash_host
    storeName = os.urandom(16).hex()
    servers: List[ChildServer] = []

    def start(
        root: Root,
        *,
        stash: Optional[str] = None,
        config: Config = None,
        host: Optional[str] = None,
        tls: bool = False,
    ) -> ChildServer:
        __tracebackhide__ = True
        if stash is not None and stash.split(":", 1)[0].lower() == "memory":
            raise ValueError(
                f"pyhandlers(stash={stash!r}): an in-memory stash lives in the server's process, "
                "where the test cannot reach it; leave stash= out for a shared one"
            )
        if not Path(root).is_dir():
            raise ValueError(f"pyhandlers({os.fspath(root)!r}): not a directory")
        server = ChildServer(
            root,
            tmp_path_factory.mktemp("pyhandlers"),
            stashURL=stash if stash is not None else hostURL,
            config=config,
            host=host,
            tls=tls,
        )
        try:
            server.start()
        except ServerStartError as e:
            pytest.fail(str(e), pytrace=False)
        servers.append(server)
        return server

    hostURL = stashHost.url(storeName)
    yield start
    for server in reversed(servers):
        server.stop()
        log = server.log
        if log:
            # Shown by pytest with a failing test ("Captured stdout teardown").
            print(f"--- twisted_pyhandlers server log ({server.base_url}) ---\n{log}")
    stashHost.drop(storeName)


@pytest.fixture
def pyhandlers_stubtreq() -> Callable[..., Any]:
    """
    ``pyhandlers_stubtreq(root, *, stash=None, config=None)``: an in-memory
    ``StubTreq`` client over ``root`` whose requests are answered within the
    call (see :func:`twisted_pyhandlers.testing.memoryClient`).
    """
    from twisted_pyhandlers.testing import memoryClient

    return memoryClient
