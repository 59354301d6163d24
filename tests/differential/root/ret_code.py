"""Return form (code, headers, content): the reason phrase is the default."""


def main(request, response):
    return 201, [("X-Form", "code")], "created"
