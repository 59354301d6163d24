"""response.headers: set replaces, append adds, update appends, del, in, get."""

import json

from wptserve.utils import isomorphic_decode


def main(request, response):
    h = response.headers
    h.set("X-A", "1")
    h.append("X-A", "2")
    h.set("X-B", "gone")
    del h["X-B"]
    h.update([("X-C", "3"), ("X-C", "4"), ("X-D", "5")])
    h.set("X-E", "old")
    h.set("X-E", "new")
    h["X-F"] = "item"
    h.append("X-G", "appended-first")
    summary = {
        "a": [isomorphic_decode(v) for v in h.get("X-A")],
        "b_in": "X-B" in h,
        "c_in": b"x-c" in h,
        "missing": h.get("X-Missing"),
        "missing_default": h.get("X-Missing", "dflt"),
        "e": [isomorphic_decode(v) for v in h["x-e"]],
        "items": [[isomorphic_decode(n), isomorphic_decode(v)] for n, v in h.items()],
    }
    h.set("Content-Type", "application/json")
    return json.dumps(summary)
