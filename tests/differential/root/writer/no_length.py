"""writer: no Content-Length, several write_content calls, then the end."""


def main(request, response):
    w = response.writer
    w.write_status(201)
    w.write_header("Content-Type", "text/plain")
    w.end_headers()
    for i in range(3):
        w.write_content(f"chunk {i}\n")
