"""
The bundled ``examples/`` root (what ``python3 tasks.py serve`` serves)
answers as its index page says, so the examples cannot rot.
"""

from __future__ import annotations

from pathlib import Path

import pytest_twisted
import treq
from serving import Serve

from twisted_pyhandlers import HandlerDirectory

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


async def fetch(url: str) -> tuple:
    response = await treq.get(url, persistent=False)
    return response, await response.content()


@pytest_twisted.ensureDeferred
async def test_examples(serve: Serve) -> None:
    """Each example handler gives the status, reason and body it documents."""
    base = serve(HandlerDirectory(EXAMPLES))
    expected = {
        "/forms/full.py": (418, b"I'm a teapot, really", b"short and stout\n"),
        "/forms/code.py": (201, b"Created", b"created\n"),
        "/forms/pair.py": (200, b"OK", b"two-tuple\n"),
        "/forms/bare.py": (200, b"OK", b"just the body\n"),
        "/forms/none.py": (202, b"Accepted For Later", b"set up by hand\n"),
        "/forms/stream.py": (200, b"OK", b"".join(b"line %d\n" % i for i in range(5))),
        "/forms/writer.py": (200, b"Hand Written", b"hand written\n"),
        "/resources/example.py?content-type=text/foobar": (200, b"my status text", b"my response content"),
    }
    for path, (code, phrase, body) in expected.items():
        response, content = await fetch(base + path)
        assert (response.code, response.phrase, content) == (code, phrase, body), path
    response, content = await fetch(base + "/forms/stash.py?put=hello")
    assert content == b"stored\n"
    response, content = await fetch(base + "/forms/stash.py")
    assert content == b"taken: b'hello'\n"
    response, content = await fetch(base + "/hello.sub.txt?pipe=header(X-Piped,yes)")
    assert response.headers.getRawHeaders("X-Piped") == ["yes"]
    assert content.startswith(b"Hello from localhost:")
    response, content = await fetch(base + "/example.html")
    assert b"fetch('resources/example.py?content-type=text/foobar')" in content
