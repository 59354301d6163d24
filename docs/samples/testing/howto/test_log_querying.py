import httpx


def test_log_querying(pyhandlers):
    server = pyhandlers()
    server.expect("/foo").respond("OK")
    assert httpx.get(server.url("/foo")).text == "OK"
    assert httpx.get(server.url("/no_match")).status_code == 404

    assert len(server.requests) == 2  # every request, matched or not
    assert server.requests.count("/foo") == 1
    server.requests.assert_received("/foo")  # exactly once, with a listing if not
    server.requests.assert_received("/bar", times=0)
    for request in server.requests.matching("/foo", method="GET"):
        assert request.header("host") == f"127.0.0.1:{server.port}"
