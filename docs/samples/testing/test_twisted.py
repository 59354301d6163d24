from pathlib import Path

import pytest_twisted
import treq
from twisted.internet.defer import gatherResults

ROOT = Path(__file__).parent / "handlers"


@pytest_twisted.ensureDeferred
async def test_treq(pyhandlers):
    server = pyhandlers(ROOT)
    response = await treq.get(server.url("echo.py"), params={"name": "treq"})
    assert response.code == 200
    assert await response.text() == "hello treq"


@pytest_twisted.ensureDeferred
async def test_slow_handlers_run_side_by_side(pyhandlers):
    server = pyhandlers(ROOT)
    responses = await gatherResults([treq.get(server.url("slow.py")) for _ in range(5)])
    assert [response.code for response in responses] == [200] * 5
    assert len(server.requests) == 5
