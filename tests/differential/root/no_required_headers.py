"""add_required_headers = False: no Date, Server or Content-Length added."""


def main(request, response):
    response.add_required_headers = False
    response.headers.set("X-Only", "this")
    return "no length"
