import uuid

import httpx


def test_closures_writer_and_stash(pyhandlers):
    calls = []
    key = str(uuid.uuid4())

    def counted(request, response):
        calls.append(request.GET.first("page", b"1"))
        return 200, [("X-Calls", str(len(calls)))], f"page {len(calls)}"

    def streamed(request, response):
        response.writer.write_status(200)
        response.writer.write_header("Content-Type", "text/plain")
        response.writer.end_headers()
        for part in (b"one ", b"two ", request.server.stash.take(key).encode()):
            response.writer.write(part)

    server = pyhandlers(handlers={"/items": counted, "/stream": streamed})
    assert httpx.get(server.url("/items?page=2")).headers["X-Calls"] == "1"
    assert calls == [b"2"]

    server.stash.put(key, "three", path="/stream")
    assert httpx.get(server.url("/stream")).text == "one two three"

    server.add_handler("/late", lambda request, response: "added while running")
    assert httpx.get(server.url("/late")).text == "added while running"
