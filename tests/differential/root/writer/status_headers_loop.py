"""response.write_status_headers() then writer.write_content in a loop."""


def main(request, response):
    response.headers.set("Content-Type", "text/plain")
    response.headers.append("X-Stream", "a")
    response.headers.append("X-Stream", "b")
    response.status = (200, "Streaming")
    response.write_status_headers()
    for i in range(4):
        response.writer.write_content(b"piece %d\n" % i)
