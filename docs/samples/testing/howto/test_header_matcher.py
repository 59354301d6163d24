import httpx


def test_case_insensitive_matching(pyhandlers):
    server = pyhandlers()
    bar_in_any_case = lambda value: value is not None and value.lower() == "bar"  # noqa: E731
    server.expect("/", headers={"X-Foo": bar_in_any_case}).respond("OK")

    assert httpx.get(server.url("/"), headers={"X-Foo": "bar"}).status_code == 200
    assert httpx.get(server.url("/"), headers={"X-Foo": "BAR"}).status_code == 200
