import httpx


def test_host_and_port(pyhandlers):
    def main(request, response):
        return request.server.config["browser_host"]

    server = pyhandlers(host="web-platform.test", handlers={"/": main})
    assert server.url("/") == f"http://127.0.0.1:{server.port}/"  # a free port, each time
    assert httpx.get(server.url("/")).text == "web-platform.test"
