import httpx


def test_my_client(pyhandlers):
    def main(request, response):
        return [("Content-Type", "application/json")], '{"foo": "bar"}'

    server = pyhandlers(handlers={"/foobar": main})
    assert httpx.get(server.url("/foobar")).json() == {"foo": "bar"}


def test_what_my_client_sends(pyhandlers):
    server = pyhandlers()
    server.expect("/foobar", method="POST", json={"id": 12}).once().respond(json={"foo": "bar"})
    assert httpx.post(server.url("/foobar"), json={"id": 12}).json() == {"foo": "bar"}
