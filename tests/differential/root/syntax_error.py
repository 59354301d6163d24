"""A handler file that does not compile: a 'break' outside a loop is a
SyntaxError raised when compiling, after parsing."""


def main(request, response):
    return "never"


break  # noqa: F701
