"""A tuple of the wrong length is a 500."""


def main(request, response):
    return (200, "reason", [], "content")
