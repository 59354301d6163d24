"""unset_cookie while other cookies are set (wptserve 4.0.3 raises here)."""


def main(request, response):
    response.set_cookie("keep", "1")
    response.set_cookie("drop", "2")
    response.set_cookie("keep2", "3", path="/p")
    response.unset_cookie(b"drop")
    return "unset"
