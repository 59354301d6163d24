def main(request, response):
    # The test put a value in the stash for this handler's path.
    token = request.server.stash.take(request.GET.first("id"))
    if token is None:
        return 404, [], "no token"
    request.server.stash.put(request.GET.first("id"), "seen " + token, path="/reply")
    return token
