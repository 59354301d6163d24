"""Return form: bare content."""


def main(request, response):
    return "bare content"
