"""Echo request.cookies: names are bytes, values have .value and str()."""

import json

from wptserve.utils import isomorphic_decode as d


def main(request, response):
    c = request.cookies
    out = {
        "items": [[d(k), [d(v.value) for v in c.get_list(k)]] for k in c],
        "getitem_dup": d(c[b"dup"].value) if b"dup" in c else None,
        "first_dup": d(c.first(b"dup").value) if b"dup" in c else None,
        "str_a": str(c[b"a"]) if b"a" in c else None,
        "missing": c.get(b"zzz"),
    }
    return [("Content-Type", "application/json")], json.dumps(out)
