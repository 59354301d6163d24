"""The HTTP/2 writer: a HEADERS frame, then DATA frames, the last one ending the stream."""


def main(request, response):
    writer = response.writer
    writer.write_headers([("content-type", "text/plain"), ("x-writer", "h2")], 201)
    writer.write_data(b"first frame,", last=False)
    writer.write_data("second frame", last=True)
