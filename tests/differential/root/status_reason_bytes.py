"""A reason phrase given as bytes."""


def main(request, response):
    response.status = (200, b"Bytes Reason \xe9")
    return "ok"
