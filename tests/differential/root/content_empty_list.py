"""An empty iterable: no body and (in wptserve) no Content-Length."""


def main(request, response):
    return [("X-Empty", "list")], []
