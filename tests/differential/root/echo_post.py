"""Echo request.POST for urlencoded and multipart bodies, uploads included.

Keys are echoed sorted: wptserve takes them from cgi.FieldStorage.keys(),
which goes through a set, so its order changes from process to process.
"""

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
        "items": [[d(k), [describe(v) for v in p.get_list(k)]] for k in sorted(p)],
        "missing": p.get(b"zzz"),
        "body_length": len(request.body),
    }
    return [("Content-Type", "application/json")], json.dumps(out)
