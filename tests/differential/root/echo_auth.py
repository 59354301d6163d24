"""Echo request.auth from Basic credentials (bytes or None)."""

import json

from wptserve.utils import isomorphic_decode as d


def main(request, response):
    a = request.auth
    out = {
        "username": None if a.username is None else d(a.username),
        "password": None if a.password is None else d(a.password),
    }
    return [("Content-Type", "application/json")], json.dumps(out)
