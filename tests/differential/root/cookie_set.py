"""set_cookie with every option, and with the defaults."""

from datetime import UTC, datetime, timedelta


def main(request, response):
    response.set_cookie(b"plain", b"value")
    response.set_cookie(
        "every",
        "option",
        path="/some/path",
        domain="web-platform.test",
        max_age=3600,
        expires=datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC),
        samesite="Lax",
        secure=True,
        httponly=True,
        comment="a comment",
    )
    response.set_cookie("delta", "age", max_age=timedelta(hours=2))
    response.set_cookie("strict", "s", samesite="Strict", path="/")
    response.set_cookie("spaced", "needs quoting; here")
    return "cookies"
