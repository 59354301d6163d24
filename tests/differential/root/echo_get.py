"""Echo request.GET: repeated keys, blank values, first/last/get/get_list/in."""

import json

from wptserve.utils import isomorphic_decode as d


def main(request, response):
    g = request.GET
    out = {
        "items": [[d(k), [d(v) for v in g.get_list(k)]] for k in g],
        "first_a": d(g.first(b"a")),
        "last_a": d(g.last(b"a")),
        "getitem_a": d(g[b"a"]),
        "get_b": d(g.get(b"b")),
        "get_missing": g.get(b"zzz"),
        "first_default": g.first(b"zzz", "dflt"),
        "get_list_missing": g.get_list(b"zzz"),
        "c_in": b"c" in g,
        "zzz_in": b"zzz" in g,
    }
    return [("Content-Type", "application/json")], json.dumps(out)
