def main(request, response):
    """The query's ``v``, so a test in any scope can see it reach a handler."""
    return [("Content-Type", "text/plain")], request.GET.first(b"v", b"none")
