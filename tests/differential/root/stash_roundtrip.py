"""request.server.stash: put then take within one request; take again is None."""

import json


def main(request, response):
    key = "a0c6c1b3-2f4e-4d6b-9a51-0e8c7f2d1b11"
    stash = request.server.stash
    stash.put(key, "stashed value")
    first = stash.take(key)
    second = stash.take(key)
    return [("Content-Type", "application/json")], json.dumps([first, second])
