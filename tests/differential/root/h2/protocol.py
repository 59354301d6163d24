"""What a handler sees of the request on the h2 port: protocol, method, headers, query."""

import json


def main(request, response):
    return [("Content-Type", "application/json"), ("X-Handler", "protocol")], json.dumps(
        {
            "protocol_version": request.protocol_version,
            "method": request.method,
            "query": request.GET.first(b"q").decode(),
            "custom": request.headers.get(b"x-custom", b"").decode(),
        }
    )
