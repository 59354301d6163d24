"""An exception after the writer was used: nothing more goes out."""


def main(request, response):
    w = response.writer
    w.write_status(200, "Partial")
    w.write_header("Content-Type", "text/plain")
    w.end_headers()
    w.write_content(b"before the error\n")
    raise ValueError("after writing")
