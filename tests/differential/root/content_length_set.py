"""A handler-set Content-Length is not duplicated by the server."""


def main(request, response):
    response.headers.set("Content-Length", 5)
    return "12345"
