"""A handler that answers HEAD like GET; the server drops the body."""


def main(request, response):
    return [("Content-Type", "text/plain"), ("X-Method", request.method)], "head body"
