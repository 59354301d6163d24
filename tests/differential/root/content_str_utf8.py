"""str content is encoded with the default encoding, utf-8."""


def main(request, response):
    return [("Content-Type", "text/plain; charset=utf-8")], "h\xe9llo \u2603"
