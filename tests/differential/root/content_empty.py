"""An empty string: Content-Length 0 and no body."""


def main(request, response):
    return ""
