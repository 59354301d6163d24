"""wptserve.response.MultipartContent as content, with a fixed boundary."""

from wptserve.response import MultipartContent


def main(request, response):
    content = MultipartContent(
        boundary="fixed-boundary", default_content_type="text/plain"
    )
    content.append_part(b"first part")
    content.append_part(b"<p>second</p>", "text/html", [(b"X-Part", b"2")])
    response.headers.set("Content-Type", "multipart/mixed; boundary=fixed-boundary")
    response.content = content
