"""json_handler returning ((code, reason), headers, value)."""

from wptserve.handlers import json_handler


@json_handler
def main(request, response):
    return (201, "Made JSON"), [("X-Json", "tuple")], {"made": "yes"}
