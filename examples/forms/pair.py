# (headers, content): status 200; header names and values may be str, bytes or int.
def main(request, response):
    return [("Content-Type", "text/plain"), (b"X-Bytes", b"yes"), ("X-Number", 42)], "two-tuple\n"
