"""request.server.stash.put/take with keys that are not UUIDs: wptserve's errors."""

import uuid

KEYS = {
    "none": None,
    "garbage": "not-a-uuid",
    "empty": "",
    "int": 5,
    "uuid-object": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "nonascii": b"\xe9" * 16,
    "float": 1.5,
}


def main(request, response):
    key = KEYS[request.GET.first(b"key").decode("ascii")]
    if request.GET.first(b"op", b"take") == b"put":
        request.server.stash.put(key, "value")
    else:
        request.server.stash.take(key)
    return "no error"
