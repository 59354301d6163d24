"""Returned headers are added to (not replacing) headers already set."""


def main(request, response):
    response.headers.set("X-Pre", "first")
    response.headers.set("X-Only-Pre", "kept")
    return [("X-Pre", "second"), ("X-Post", "new")], "added"
