"""Return form ((code, reason), headers, content)."""


def main(request, response):
    return (202, "Custom Accepted"), [("X-Form", "code-reason")], "accepted body"
