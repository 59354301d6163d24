"""wptserve.handlers.json_handler returning a value."""

from wptserve.handlers import json_handler


@json_handler
def main(request, response):
    return {"method": request.method, "list": [1, "two", None], "nested": {"k": True}}
