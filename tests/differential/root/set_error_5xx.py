"""response.set_error(503) without an error: the message says so."""


def main(request, response):
    response.set_error(503)
