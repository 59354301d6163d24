"""writer.write_content without a status: default 200 and required headers."""


def main(request, response):
    response.writer.write_content("only content")
