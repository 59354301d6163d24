"""A generator of bytes and str content."""


def main(request, response):
    def parts():
        for i in range(5):
            yield f"part {i};"
            yield b"bytes %d;" % i

    return [("Content-Type", "text/plain")], parts()
