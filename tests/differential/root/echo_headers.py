"""Echo request.headers: case-insensitive, repeated fields joined with ", "."""

import json

from wptserve.utils import isomorphic_decode as d


def main(request, response):
    h = request.headers
    out = {
        "names": sorted(d(k) for k in h),
        "rep": d(h.get("X-Rep")),
        "rep_bytes_key": d(h.get(b"x-rep")),
        "rep_list": [d(v) for v in h.get_list("X-REP")],
        "single": d(h["x-single"]),
        "in": "X-Single" in h,
        "missing": h.get("X-Missing"),
        "missing_default": h.get("X-Missing", "dflt"),
        "missing_list": h.get_list("X-Missing", []),
        "host": d(h["host"]),
    }
    return [("Content-Type", "application/json")], json.dumps(out)
