# The stash: ?put=VALUE stores a value under a fixed UUID, a plain request takes it.
KEY = "d3b07384-d9a0-4c9b-8c3e-3a6f0f9e1f7a"


def main(request, response):
    if b"put" in request.GET:
        request.server.stash.put(KEY, request.GET.first(b"put"))
        return [("Content-Type", "text/plain")], "stored\n"
    value = request.server.stash.take(KEY)
    return [("Content-Type", "text/plain")], "taken: %r\n" % (value,)
