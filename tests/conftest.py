"""
Fixtures shared by the whole suite.

``serve`` puts a resource on a real listening port on 127.0.0.1 (port 0:
the system picks) for the duration of a test; ``handlerRoot`` writes
handler files into a fresh document root.  pytest-twisted runs the reactor,
so tests are ``@pytest_twisted.ensureDeferred`` coroutines or
``@pytest_twisted.inlineCallbacks`` generators.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List

import pytest
import pytest_twisted
from serving import HandlerRoot, Serve
from twisted.internet import reactor
from twisted.internet.interfaces import IListeningPort
from twisted.web.resource import IResource

from twisted_pyhandlers import HandlerSite


@pytest.fixture
def serve() -> Iterator[Serve]:
    """
    ``serve(resource) -> "http://127.0.0.1:PORT"``: a real Site (the
    HandlerSite the plugin serves with) on a real loopback port, closed at
    the end of the test.
    """
    ports: List[IListeningPort] = []

    def start(resource: IResource) -> str:
        port = reactor.listenTCP(0, HandlerSite(resource), interface="127.0.0.1")  # type: ignore[attr-defined]
        ports.append(port)
        return f"http://127.0.0.1:{port.getHost().port}"

    yield start
    for port in ports:
        pytest_twisted.blockon(port.stopListening())


@pytest.fixture
def handlerRoot(tmp_path: Path) -> HandlerRoot:
    """A fresh, empty document root."""
    root = tmp_path / "root"
    root.mkdir()
    return HandlerRoot(root)
