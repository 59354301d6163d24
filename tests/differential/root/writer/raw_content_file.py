"""writer.write_raw_content with a file-like object."""

import io


def main(request, response):
    w = response.writer
    w.write_status(200)
    w.write_header("Content-Type", "text/plain")
    w.end_headers()
    w.write_raw_content(io.BytesIO(b"from a file object\n" * 4))
