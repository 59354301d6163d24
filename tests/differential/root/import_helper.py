"""The root is importable: from resources.helpers import ..."""

from resources.helpers import greeting


def main(request, response):
    return greeting("handler")
