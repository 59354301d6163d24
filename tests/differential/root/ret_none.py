"""Return None: the response object as the handler left it."""


def main(request, response):
    response.status = (203, "Set By Hand")
    response.headers.set("Content-Type", "text/plain")
    response.headers.set("X-Form", "none")
    response.content = "manual content"
