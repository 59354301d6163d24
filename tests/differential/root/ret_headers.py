"""Return form (headers, content): status stays 200."""


def main(request, response):
    return [("Content-Type", "text/plain"), ("X-Form", "headers")], "hello"
