import json
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).parent / "handlers"


def test_urllib(pyhandlers):
    server = pyhandlers(ROOT)
    with urllib.request.urlopen(server.url("echo.py?name=urllib")) as response:
        assert response.status == 200
        assert response.read() == b"hello urllib"


def test_requests_and_httpx(pyhandlers):
    requests = pytest.importorskip("requests")
    httpx = pytest.importorskip("httpx")
    server = pyhandlers(ROOT)
    assert requests.get(server.url("echo.py"), params={"name": "requests"}).text == "hello requests"
    assert httpx.get(server.url("echo.py"), params={"name": "httpx"}).text == "hello httpx"
    assert requests.get(server.url("page.html")).headers["Content-Type"] == "text/html"


def test_what_the_client_sent(pyhandlers):
    server = pyhandlers(ROOT)
    body = json.dumps({"answer": 42}).encode()
    request = urllib.request.Request(
        server.url("collect.py?from=test"),
        data=body,
        headers={"Content-Type": "application/json", "X-Client": "mine"},
    )
    urllib.request.urlopen(request).close()

    [received] = server.requests
    assert received.method == "POST"
    assert received.path == "/collect.py"
    assert received.query == "from=test"
    assert received.header("x-client") == "mine"  # any case
    assert ("X-Client", "mine") in received.headers  # as urllib sent it
    assert json.loads(received.body) == {"answer": 42}


def test_stash(pyhandlers):
    server = pyhandlers(ROOT)
    key = str(uuid.uuid4())
    server.stash.put(key, "secret", path="/token.py")
    with urllib.request.urlopen(server.url(f"token.py?id={key}")) as response:
        assert response.read() == b"secret"
    assert server.stash.take(key, path="/reply") == "seen secret"


def test_config(pyhandlers):
    server = pyhandlers(ROOT, host="web-platform.test", config={"subdomains": ["www"]})
    assert server.config["domains"][""]["www"] == "www.web-platform.test"
    assert server.config["ports"]["http"] == [server.port]
