"""writer.write: raw bytes, the whole response written by hand."""


def main(request, response):
    response.writer.write(
        b"HTTP/1.1 299 Raw Status\r\n"
        b"x-raw-lower: yes\r\n"
        b"X-RAW-UPPER: yes\r\n"
        b"Content-Length: 8\r\n"
        b"\r\n"
        b"raw body"
    )
