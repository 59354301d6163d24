"""An empty reason phrase goes out empty."""


def main(request, response):
    return (200, ""), [], "no reason"
