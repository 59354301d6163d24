"""response.set_error with a client error: JSON body, message as given."""


def main(request, response):
    response.headers.set("X-Dropped", "set_error replaces headers")
    response.set_error(418, "short and stout")
