"""request.raw_headers and request.headers names: as sent, in order, one per line."""

import json


def main(request, response):
    raw = request.raw_headers
    out = {
        "raw_items": [list(item) for item in raw.raw_items()],
        "items": [list(item) for item in raw.items()],
        "keys": list(raw.keys()),
        "iter": list(raw),
        "get_all": raw.get_all("X-Dup"),
        "str": str(raw),
        "headers": [name.decode("latin-1") for name in request.headers],
    }
    return [("Content-Type", "application/json")], json.dumps(out)
