def main(request, response):
    name = request.GET.first("name", b"world").decode()
    return [("Content-Type", "text/plain")], f"hello {name}"
