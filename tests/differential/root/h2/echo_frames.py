"""
wptserve's HTTP/2 handler API: handle_headers when the HEADERS frame
arrives, handle_data for each DATA frame, then main, all three in one run of
the module, with the same request.
"""

import json

seen = []


def handle_headers(frame, request, response):
    headers = dict(frame.headers)
    seen.append(["headers", headers[b":method"].decode(), headers[b":path"].decode()])


def handle_data(frame, request, response):
    seen.append(["data", frame.data.decode(), frame.stream_ended is not None])


def main(request, response):
    seen.append(["main", request.method, request.body.decode()])
    return [("Content-Type", "application/json")], json.dumps(seen)
