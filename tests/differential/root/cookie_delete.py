"""delete_cookie and set_cookie(name, None): expire in the past."""


def main(request, response):
    response.delete_cookie(b"gone", path="/x", domain="web-platform.test")
    response.delete_cookie("gone-default")
    response.set_cookie("none-value", None)
    return "deleted"
