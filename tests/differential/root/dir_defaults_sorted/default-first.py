"""Chosen: the first default*.py by name."""


def main(request, response):
    return "default-first.py"
