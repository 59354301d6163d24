"""wptserve.pipes functions called from a handler, as real WPT handlers call them."""

from wptserve import pipes


def main(request, response):
    which = request.GET.first(b"call").decode("ascii")
    response.headers.set("Content-Type", "text/plain")
    response.content = "x={{GET[x]}} h={{header_or_default(X-H, none)}} <&>"
    if which == "sub":
        # eventsource/resources/eventsource.py: content set, then sub, no return.
        pipes.sub(request, response)
        return
    if which == "sub-none":
        return pipes.sub(request, response, "none").content
    if which == "status":
        pipes.status(request, response, 404)
    elif which == "header":
        pipes.header(request, response, "X-Piped", "one")
        pipes.header(request, response, "X-Piped", "two", True)
    elif which == "slice":
        pipes.slice(request, response, 5, 12)
    elif which == "slice-open":
        pipes.slice(request, response, -5)
    elif which == "trickle":
        pipes.trickle(request, response, "5:d0.01:r2")
    elif which == "gzip":
        import gzip
        import json

        original = b"gzip me " * 8
        response.content = original
        pipes.gzip(request, response)
        compressed = response.content
        # The gzip header carries a timestamp, so the bytes differ from one
        # second to the next: describe them instead of sending them.
        summary = {
            "content-encoding": response.headers.get("Content-Encoding"),
            "content-length": response.headers.get("Content-Length"),
            "length": len(compressed),
            "magic": compressed[:2].hex(),
            "round-trip": gzip.decompress(compressed) == original,
        }
        summary = {
            k: [x.decode() for x in v] if isinstance(v, list) else v
            for k, v in summary.items()
        }
        del response.headers["Content-Encoding"]
        del response.headers["Content-Length"]
        return json.dumps(summary)
    elif which == "chain":
        pipes.sub(request, response)
        pipes.slice(request, response, 0, 9)
        pipes.header(request, response, "Content-Length", "9")
    elif which == "bad-args":
        pipes.status(request, response)
    return response.content
