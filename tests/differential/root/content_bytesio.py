"""A BytesIO as content (a file-like object that is not a file)."""

import io


def main(request, response):
    return io.BytesIO(b"from a BytesIO " * 10)
