# An HTTP handler reading what a WebTransport handler put in the shared
# stash (wpt's WebTransport tests read it back the same way): waits (up to
# 20 s) for the record under ?token=, then answers it with the one under
# ?stream=.
import json
import time


def main(request, response):
    token = request.GET.first(b"token").decode()
    streamKey = request.GET.first(b"stream").decode()
    stash = request.server.stash
    deadline = time.monotonic() + 20
    closed = None
    while closed is None and time.monotonic() < deadline:
        closed = stash.take(key=token, path="/webtransport/handlers")
        time.sleep(0.01)
    stream = stash.take(key=streamKey, path="/webtransport/handlers")
    return [("Content-Type", "application/json")], json.dumps({"stream": stream, "session": closed})
