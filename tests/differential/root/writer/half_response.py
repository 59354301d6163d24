"""Half a response: a Content-Length of 100 and only 10 body bytes."""


def main(request, response):
    w = response.writer
    w.write_status(200)
    w.write_header("Content-Length", 100)
    w.end_headers()
    w.write_content(b"0123456789")
