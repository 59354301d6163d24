"""
A finished request is freed by reference counting: nothing of it is left for
the cyclic garbage collector.

Under load every request's leftovers used to be reference cycles (the
response and its writer, a handler leaf and its own bound method), and with
them the request, its headers and its transport objects: ~37 objects a
request that only a cyclic collection could free.  Collections over a few
hundred requests in flight took a sixth of the server's CPU in the sleeping
handler benchmark (docs/performance.rst).
"""

from __future__ import annotations

import gc
from typing import Iterator, List

import pytest
import pytest_twisted
import treq
from serving import HandlerRoot, Serve
from twisted.internet import reactor
from twisted.internet.task import deferLater

from twisted_pyhandlers import HandlerDirectory


@pytest.fixture
def noAutomaticCollection() -> Iterator[None]:
    """Cyclic garbage collection off for the test (and everything before it collected)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def cyclicGarbageOfOurs() -> List[str]:
    """
    Collect cycles, keeping what is found, and name the objects of this
    package among them.
    """
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return sorted(
            f"{type(found).__module__}.{type(found).__qualname__}"
            for found in gc.garbage
            if type(found).__module__.startswith("twisted_pyhandlers")
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


@pytest_twisted.ensureDeferred
async def test_finishedRequestsLeaveNoCycles(
    handlerRoot: HandlerRoot, serve: Serve, noAutomaticCollection: None
) -> None:
    """
    Handlers returning a value, writing through the writer, raising, and
    static files with a pipe: after their responses are read, no request,
    response, writer, output or leaf of ours is cyclic garbage.
    """
    handlerRoot.write(
        "returns.py",
        """
        def main(request, response):
            return [("Content-Type", "text/plain")], "returned"
        """,
    )
    handlerRoot.write(
        "writes.py",
        """
        def main(request, response):
            response.writer.write_status(201)
            response.writer.write_header("Content-Length", 5)
            response.writer.end_headers()
            response.writer.write("wrote")
        """,
    )
    handlerRoot.write(
        "raises.py",
        """
        def main(request, response):
            raise ValueError("broken on purpose")
        """,
    )
    handlerRoot.write("page.txt", "static\n")
    base = serve(HandlerDirectory(handlerRoot.path))
    paths = ["returns.py", "writes.py", "raises.py", "page.txt?pipe=status(202)"]
    expected = [200, 201, 500, 202]
    # A first round compiles the handlers and fills the server's caches.
    for path in paths:
        await treq.content(await treq.get(f"{base}/{path}"))
    assert cyclicGarbageOfOurs() == []

    for _ in range(5):
        codes = []
        for path in paths:
            answer = await treq.get(f"{base}/{path}")
            await treq.content(answer)
            codes.append(answer.code)
        assert codes == expected

    assert cyclicGarbageOfOurs() == []


PROBE = """
import threading

class Marker:
    pass

markers = []
results = []
"""


@pytest_twisted.ensureDeferred
async def test_moduleBodyFreedWhenWritten(
    handlerRoot: HandlerRoot, serve: Serve, noAutomaticCollection: None
) -> None:
    """
    What a handler file's module body builds is freed as soon as the
    response is written, not at the next cyclic collection (its functions
    refer to its namespace, so the namespace is a cycle).
    """
    handlerRoot.write("namespace_probe_freed.py", PROBE)
    handlerRoot.write(
        "big.py",
        """
        import weakref
        import namespace_probe_freed

        BODY = namespace_probe_freed.Marker()
        namespace_probe_freed.markers.append(weakref.ref(BODY))

        def helper():
            return "written"

        def main(request, response):
            return helper()
        """,
    )
    base = serve(HandlerDirectory(handlerRoot.path))
    for _ in range(3):
        answer = await treq.get(f"{base}/big.py")
        assert await treq.content(answer) == b"written"
    import namespace_probe_freed  # type: ignore[import-not-found]

    assert len(namespace_probe_freed.markers) == 3
    assert [marker() for marker in namespace_probe_freed.markers] == [None, None, None]


@pytest_twisted.ensureDeferred
async def test_namespaceKeptForCodeStillRunning(handlerRoot: HandlerRoot, serve: Serve) -> None:
    """
    A thread the handler started, which uses the module's globals after the
    response is written, still finds them: the namespace is only emptied
    when nothing outside it can run its code.
    """
    handlerRoot.write("namespace_probe_kept.py", PROBE)
    handlerRoot.write(
        "later.py",
        """
        import threading
        import time
        import namespace_probe_kept

        DELAY = 0.3

        def main(request, response):
            def later():
                time.sleep(DELAY)
                namespace_probe_kept.results.append(("ran", DELAY))
            threading.Thread(target=later).start()
            return "started"
        """,
    )
    base = serve(HandlerDirectory(handlerRoot.path))
    answer = await treq.get(f"{base}/later.py")
    assert await treq.content(answer) == b"started"
    import namespace_probe_kept  # type: ignore[import-not-found]

    deadline = reactor.seconds() + 10  # type: ignore[attr-defined]
    while not namespace_probe_kept.results and reactor.seconds() < deadline:  # type: ignore[attr-defined]
        await deferLater(reactor, 0.05)
    assert namespace_probe_kept.results == [("ran", 0.3)]
