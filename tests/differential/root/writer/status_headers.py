"""writer: custom status and reason, duplicate headers in chosen case, body."""


def main(request, response):
    w = response.writer
    w.write_status(200, "Hand Written")
    w.write_header("X-Dup", "one")
    w.write_header("x-dup", "two")
    w.write_header(b"X-Bytes-Name", b"bytes")
    w.write_header("X-Int", 7)
    w.write_header("Content-Length", 11)
    w.end_headers()
    w.write_content("hello world")
