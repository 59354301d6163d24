"""A str header value outside latin-1 cannot be encoded: a 500."""


def main(request, response):
    return [("X-Snowman", "\u2603")], "never sent"
