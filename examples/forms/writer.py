# Direct socket control: exactly these bytes go on the wire, in this order
# and case; main's return value is ignored once the writer is used.
def main(request, response):
    response.add_required_headers = False
    response.writer.write_status(200, "Hand Written")
    response.writer.write_header("content-type", "text/plain")
    response.writer.write_header("X-Duplicate", "first")
    response.writer.write_header("x-duplicate", "second")
    response.writer.write_header("Content-Length", 13)
    response.writer.end_headers()
    response.writer.write_content(b"hand written\n")
