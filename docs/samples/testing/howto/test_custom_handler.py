from random import randint

import httpx


def test_handler(pyhandlers):
    def main(request, response):
        return str(randint(1, 10))

    server = pyhandlers(handlers={"/foobar": main})
    assert 1 <= int(httpx.get(server.url("/foobar")).text) <= 10
