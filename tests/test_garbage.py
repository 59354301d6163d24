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
