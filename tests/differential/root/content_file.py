"""A file object as content is read to the end and closed."""

import os


def main(request, response):
    path = os.path.join(os.path.dirname(__file__), "resources", "data.txt")
    return [("Content-Type", "text/plain")], open(path, "rb")
