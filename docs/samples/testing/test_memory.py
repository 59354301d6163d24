from pathlib import Path

import pytest_twisted

ROOT = Path(__file__).parent / "handlers"


def test_in_memory(pyhandlers_stubtreq):
    client = pyhandlers_stubtreq(ROOT)
    response = client.result(client.get("http://example.test/echo.py?name=memory"))
    assert response.code == 200
    assert client.result(response.text()) == "hello memory"
    page = client.result(client.get("http://example.test/page.html"))
    assert client.result(page.content()).startswith(b"<!doctype html>")


@pytest_twisted.ensureDeferred
async def test_in_memory_from_twisted(pyhandlers_stubtreq):
    client = pyhandlers_stubtreq(ROOT)
    response = await client.get("http://example.test/echo.py?name=treq")
    assert await response.text() == "hello treq"
