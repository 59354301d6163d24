"""writer.write_status with a code outside the table and no reason."""


def main(request, response):
    w = response.writer
    w.write_status(599)
    w.write_header("Content-Length", 0)
    w.end_headers()
