"""request.url and its scheme on the h2 port."""

import json


def main(request, response):
    return [("Content-Type", "application/json")], json.dumps(
        {"url": request.url, "scheme": request.url_parts.scheme, "path": request.url_parts.path}
    )
