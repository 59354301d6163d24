"""
The pytest plugin: fixtures for testing your own handlers (and the clients
that talk to them).  Installed with the package (the ``pytest11`` entry point
``pyhandlers``); no ``conftest.py`` needed.

``pyhandlers(root=None, *, handlers=None, **options)``
    starts a real server in the test's process, on its own reactor thread,
    on free loopback ports, and returns an
    :class:`~twisted_pyhandlers._inprocess.InProcessServer`: handler
    functions written in the test and/or a document root; expectations;
    every protocol.  At teardown the test fails if a handler raised (unless
    the test called ``server.allow_errors()``) or an expectation was not
    met.  ``pyhandlers.use(server)`` does the same for a server the user's
    own session- or module-scoped fixture started
    (:func:`twisted_pyhandlers.testing.serve`).  ``process=True`` starts
    the server in a child process instead (files only).

``pyhandlers_stubtreq(root=None, *, handlers=None, **options)``
    an in-memory :class:`treq.testing.StubTreq` client
    (:func:`twisted_pyhandlers.testing.memoryClient`): no sockets, no
    threads.

See the "Testing your handlers" page of the documentation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterator, List, Mapping, Optional, Union

import pytest

from twisted_pyhandlers._childserver import ChildServer, ServerStartError
from twisted_pyhandlers.managerstash import StashHost
from twisted_pyhandlers.stash import MemoryStashStore

if TYPE_CHECKING:
    # Imported when a test starts a server, not when pytest loads the
    # plugin: every pytest run of an environment with the package installed
    # loads it, and the server side imports all of twisted.web.
    from twisted_pyhandlers._inprocess import InProcessServer

__all__ = ["pyhandlers", "pyhandlers_stubtreq"]

Root = Union[str, "os.PathLike[str]"]
Config = Union[str, "os.PathLike[str]", Mapping[str, Any], None]

#: Where a test's in-process servers are kept, for its report.
_SERVERS = pytest.StashKey[List["InProcessServer"]]()

#: Why a function cannot go to a child process, and what to do instead.
CROSSING = (
    "pyhandlers(process=True, handlers=...): a child process cannot run functions of the test "
    "(closures and the test's objects do not cross a process boundary); leave process=True out "
    "(the server then runs in the test's process), or put the handler in a file under the root"
)


@pytest.fixture(scope="session")
def _pyhandlers_stash_host() -> StashHost:
    """One stash host per test session, for servers in child processes."""
    host = StashHost()
    host.start()
    return host


@pytest.fixture(scope="session")
def _pyhandlers_certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for the made TLS certificate, reused by every server of the session."""
    return tmp_path_factory.mktemp("pyhandlers-tls")


class ServerStarter:
    """
    What the ``pyhandlers`` fixture gives a test: call it to start a
    server; :meth:`use` a shared one.  Test thread.
    """

    def __init__(self, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, certificates: Path) -> None:
        self._request = request
        self._tmp = tmp_path_factory
        self._certificates = certificates
        self._stash = MemoryStashStore()
        self.started: List["InProcessServer"] = []
        self.used: List["InProcessServer"] = []
        self.children: List[ChildServer] = []
        request.node.stash[_SERVERS] = []

    def __call__(
        self,
        root: Optional[Root] = None,
        *,
        handlers: Optional[Mapping[str, Callable[[Any, Any], Any]]] = None,
        stash: Optional[str] = None,
        config: Config = None,
        host: Optional[str] = None,
        tls: bool = False,
        h2: bool = False,
        ws: bool = False,
        ws_handlers: Optional[str] = None,
        websockets: Optional[Mapping[str, Any]] = None,
        process: bool = False,
    ) -> Any:
        """
        Start a server on ``root`` (optional) serving ``handlers``.

        :param handlers: ``{"/api/echo": main}``: each function answers its
            path (the query aside), with wptserve's ``main(request,
            response)`` signature.
        :param stash: a stash URL (e.g. ``redis://127.0.0.1:6379/0``); by
            default a store shared by the test and all its servers.
        :param config: a wptserve-style config, as a JSON file's path or a dict.
        :param host: the host name handlers see as ``browser_host``.
        :param tls: also serve HTTPS (``server.url(path, scheme="https")``,
            and :attr:`base_url` is HTTPS) with a made certificate
            (``server.ca``, ``server.spkiPin``).
        :param h2: also serve HTTP/2 (``scheme="h2"``).
        :param ws: also serve WebSockets (``scheme="ws"``, and ``"wss"``
            with ``tls``) from the ``*_wsh.py`` handlers of the root's
            ``websockets/handlers`` (or ``ws_handlers``).
        :param websockets: ``{"/echo": transfer_data}``: WebSocket handlers
            written in the test (``web_socket_transfer_data(request)``, or a
            pair with ``web_socket_do_extra_handshake`` first); implies ``ws``.
        :param process: run the server in a child process (handler files
            only; the test gets a ``ChildServer``).
        """
        __tracebackhide__ = True
        if process:
            if handlers or websockets:
                raise ValueError(CROSSING)
            if root is None:
                raise ValueError("pyhandlers(process=True) serves a document root: give one")
            return self._child(root, stash=stash, config=config, host=host, tls=tls)
        try:
            server = self._inProcess(
                root,
                handlers=handlers,
                stash=stash if stash is not None else self._stash,
                config=config,
                host=host,
                tls=tls,
                h2=h2,
                ws=ws,
                ws_handlers=ws_handlers,
                websockets=websockets,
            )
        except ServerStartError as e:
            failure = str(e)
        else:
            self.started.append(server)
            self._request.node.stash[_SERVERS].append(server)
            return server
        pytest.fail(failure, pytrace=False)

    def _inProcess(self, root: Optional[Root], **options: Any) -> InProcessServer:
        from twisted_pyhandlers._inprocess import InProcessServer

        return InProcessServer(root, certificates=self._certificates, **options).start()

    def use(self, server: InProcessServer) -> InProcessServer:
        """
        Use a server started elsewhere (a session- or module-scoped
        fixture's) in this test: its requests, expectations and errors
        start afresh now, and are checked at this test's teardown.
        """
        server.reset()
        self.used.append(server)
        self._request.node.stash[_SERVERS].append(server)
        return server

    def _child(self, root: Root, **options: Any) -> ChildServer:
        __tracebackhide__ = True
        stash = options.pop("stash")
        if stash is not None and stash.split(":", 1)[0].lower() == "memory":
            raise ValueError(
                f"pyhandlers(stash={stash!r}, process=True): an in-memory stash lives in the server's process, "
                "where the test cannot reach it; leave stash= out for a shared one"
            )
        if not Path(root).is_dir():
            raise ValueError(f"pyhandlers({os.fspath(root)!r}): not a directory")
        if stash is None:
            stashHost: StashHost = self._request.getfixturevalue("_pyhandlers_stash_host")
            name = os.urandom(16).hex()
            stash = stashHost.url(name)
            self._request.addfinalizer(lambda: stashHost.drop(name))
        server = ChildServer(root, self._tmp.mktemp("pyhandlers"), stashURL=stash, **options)
        try:
            server.start()
        except ServerStartError as e:
            failure = str(e)
        else:
            self.children.append(server)
            return server
        pytest.fail(failure, pytrace=False)

    def finish(self) -> List[str]:
        """Stop what this test started; every problem of its servers.  Test thread, at teardown."""
        problems: List[str] = []
        for server in reversed(self.started):
            server.stop()
        for server in self.started + self.used:
            found = server.problems()
            if found:
                problems.append(server.report(found))
        for child in reversed(self.children):
            child.stop()
            if child.log:
                # Shown by pytest with a failing test ("Captured stdout teardown").
                print(f"--- twisted_pyhandlers server log ({child.base_url}) ---\n{child.log}")
        return problems


@pytest.fixture
def pyhandlers(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    _pyhandlers_certificates: Path,
) -> Iterator[ServerStarter]:
    """
    ``pyhandlers(root=None, *, handlers=None, ...)`` starts a server and
    returns it; ``pyhandlers.use(server)`` adopts a shared one (see
    :class:`ServerStarter`).  At teardown, a handler error or an
    expectation not met fails the test.
    """
    starter = ServerStarter(request, tmp_path_factory, _pyhandlers_certificates)
    yield starter
    problems = starter.finish()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Attach the log of each server a failing test used to its report."""
    outcome = yield
    report = outcome.get_result()
    servers = item.stash.get(_SERVERS, [])
    if report.failed and servers:
        for server in servers:
            log = server.log
            if log:
                report.sections.append((f"twisted_pyhandlers server log ({server.base_url})", log))


@pytest.fixture
def pyhandlers_stubtreq() -> Callable[..., Any]:
    """
    ``pyhandlers_stubtreq(root=None, *, handlers=None, stash=None,
    config=None)``: an in-memory ``StubTreq`` client whose requests are
    answered within the call (see
    :func:`twisted_pyhandlers.testing.memoryClient`).
    """
    from twisted_pyhandlers.testing import memoryClient

    return memoryClient
