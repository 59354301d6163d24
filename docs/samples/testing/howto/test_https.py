import httpx


def test_httpx(pyhandlers):
    server = pyhandlers(tls=True)
    server.expect("/").respond("hello world!")
    assert httpx.get(server.url("/"), verify=server.ca).text == "hello world!"
