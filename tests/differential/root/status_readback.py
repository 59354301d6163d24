"""response.status reads back as (code, reason-or-None)."""

import json


def main(request, response):
    seen = []
    response.status = 201
    seen.append(list(response.status))
    response.status = (202, "Given")
    seen.append(list(response.status))
    response.status = ("203", b"Bytes")
    seen.append([response.status[0], response.status[1].decode("latin-1")])
    response.status = (204, 42)
    seen.append(list(response.status))
    response.status = 200
    return [("Content-Type", "application/json")], json.dumps(seen)
