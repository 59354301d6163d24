"""A response.encoding change encodes str content (and its length) with it."""


def main(request, response):
    # Not utf-16: wptserve also encodes str header lines with this encoding.
    response.encoding = "iso-8859-15"
    response.headers.set("Content-Type", "text/plain; charset=iso-8859-15")
    return "caf\xe9 \u20ac"
