"""wptserve.handlers.handler wrapping main."""

from wptserve.handlers import handler


@handler
def main(request, response):
    return [("X-Decorated", "yes")], "decorated"
