def main(request, response):
    return [
        ("Content-Type", "text/plain"),
        ("X-Handler", "yes"),
    ], "handler body 0123456789"
