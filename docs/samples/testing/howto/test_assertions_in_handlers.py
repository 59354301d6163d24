import httpx


def test_assert_in_a_handler(pyhandlers):
    def main(request, response):
        assert request.headers.get("X-Id") == b"42"
        return "ok"

    server = pyhandlers(handlers={"/": main})
    errors = server.allow_errors()  # without it, the test fails at teardown
    assert httpx.get(server.url("/"), headers={"X-Id": "41"}).status_code == 500
    assert "AssertionError" in errors[0].text
