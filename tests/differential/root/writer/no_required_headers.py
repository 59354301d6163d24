"""add_required_headers = False: end_headers adds nothing."""


def main(request, response):
    response.add_required_headers = False
    w = response.writer
    w.write_status(200)
    w.write_header("Content-Length", 4)
    w.end_headers()
    w.write_content(b"bare")
