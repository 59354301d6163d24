"""close_connection = True: the server closes after this response."""


def main(request, response):
    response.close_connection = True
    return "closing"
