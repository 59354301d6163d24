"""Once the writer is used, main's return value and the response are ignored."""


def main(request, response):
    response.headers.set("X-Ignored", "response headers")
    response.status = 500
    w = response.writer
    w.write_status(200, "From Writer")
    w.write_header("Content-Length", 6)
    w.end_headers()
    w.write_content(b"writer")
    return (404, "Ignored"), [("X-Ignored-Too", "yes")], "ignored content"
