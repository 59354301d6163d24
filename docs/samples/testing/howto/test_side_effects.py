import time

import httpx


def delayed(seconds, main):
    def answer(request, response):
        time.sleep(seconds)
        response.headers.set("X-Example", "Example")
        return main(request, response)

    return answer


def test_delay_and_header(pyhandlers):
    server = pyhandlers(handlers={"/foo": delayed(0.5, lambda request, response: "foo")})
    response = httpx.get(server.url("/foo"))
    assert (response.text, response.headers["X-Example"]) == ("foo", "Example")
