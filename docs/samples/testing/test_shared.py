import httpx
import pytest

from twisted_pyhandlers.testing import serve


def api(request, response):
    return [("Content-Type", "application/json")], '{"status": "up"}'


@pytest.fixture(scope="module")
def shared_server():
    with serve(handlers={"/api/status": api}) as server:
        yield server


@pytest.fixture
def server(shared_server, pyhandlers):
    return pyhandlers.use(shared_server)  # afresh for each test, checked at its end


def test_first(server):
    server.expect("/api/status").once()
    assert httpx.get(server.url("/api/status")).json() == {"status": "up"}


def test_second_sees_only_its_own_requests(server):
    assert len(server.requests) == 0
    httpx.get(server.url("/api/status"))
    server.requests.assert_received("/api/status")
