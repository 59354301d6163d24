"""writer.write_header before any status: a default 200 status line first."""


def main(request, response):
    w = response.writer
    w.write_header("X-First", "header")
    w.write_header("Content-Length", 2)
    w.end_headers()
    w.write_content("ok")
