def main(request, response):
    response.headers.set("Content-Type", "text/plain")
    response.content = "set on response"
