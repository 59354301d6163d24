# wpt's fetch/cross-origin-resource-policy/resources/image.py, in short: the
# structured writer calls, then raw bytes through writer.write().
def main(request, response):
    body = b"\x89PNG not really an image"
    response.add_required_headers = False
    response.writer.write_status(200)
    response.writer.write_header(b"content-length", len(body))
    response.writer.write_header(b"content-type", b"image/png")
    response.writer.end_headers()
    response.writer.write(body)
