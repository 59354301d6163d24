"""bytes content goes out as it is, with a Content-Length."""


def main(request, response):
    return [("Content-Type", "application/octet-stream")], b"\x00\x01\xfe\xffraw"
