import httpx


def test_ready_when_started(pyhandlers):
    server = pyhandlers(handlers={"/foobar": lambda request, response: "ready"})
    assert httpx.get(server.url("/foobar"), timeout=1).text == "ready"
