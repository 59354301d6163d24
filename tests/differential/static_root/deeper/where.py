def main(request, response):
    # What the handler sees of a URL with empty segments.
    return [("Content-Type", "text/plain")], "%s %s" % (request.url_parts.path, request.url_base)
