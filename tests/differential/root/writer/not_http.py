"""writer.write of bytes that are not HTTP at all."""


def main(request, response):
    response.writer.write(b"this is not HTTP\r\n\r\nnor is this")
