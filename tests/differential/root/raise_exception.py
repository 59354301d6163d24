"""Any other exception is a 500 with the traceback in the JSON body."""


def main(request, response):
    response.headers.set("X-Before-Error", "lost")
    raise ValueError("boom from the handler")
