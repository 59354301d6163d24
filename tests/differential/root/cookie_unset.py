"""unset_cookie removes the one cookie being sent; unknown names are a no-op."""


def main(request, response):
    response.set_cookie("drop", "2")
    response.unset_cookie("never-set")
    response.unset_cookie(b"drop")
    return "unset"
