# None: the response object as the handler left it.
def main(request, response):
    response.status = (202, "Accepted For Later")
    response.headers.set("Content-Type", "text/plain")
    response.set_cookie("visited", "yes", max_age=60)
    response.content = "set up by hand\n"
