"""Status from ?code=N, reason left to the server (wptserve's table)."""


def main(request, response):
    response.status = int(request.GET.first(b"code"))
    return "status body"
