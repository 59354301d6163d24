import httpx


def test_handler_errors_are_expected(pyhandlers):
    def main(request, response):
        raise ValueError("should be propagated")

    server = pyhandlers(handlers={"/foobar": main})
    errors = server.allow_errors()  # else the test fails at teardown

    assert httpx.get(server.url("/foobar")).status_code == 500
    assert "ValueError: should be propagated" in errors[0].text


def test_check_now(pyhandlers):
    server = pyhandlers()
    server.expect("/first", ordered=True).respond(204, [], "")
    server.expect("/second", ordered=True).respond(204, [], "")
    httpx.get(server.url("/first"))
    httpx.get(server.url("/second"))
    server.check()  # what teardown checks, now
