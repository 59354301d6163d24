"""Echo request.POST for urlencoded and multipart bodies, uploads included."""

import json

from wptserve.utils import isomorphic_decode as d


def describe(value):
    if getattr(value, "filename", None):
        return {
            "filename": value.filename,
            "value": d(value.value),
            "file": d(value.file.read()),
        }
    return d(value)


def main(request, response):
    p = request.POST
    out = {
        "items": [[d(k), [describe(v) for v in p.get_list(k)]] for k in p],
        "missing": p.get(b"zzz"),
        "body_length": len(request.body),
    }
    return [("Content-Type", "application/json")], json.dumps(out)
