"""default.py runs for the directory URL with a slash."""


def main(request, response):
    return [("X-Default", "dir_default")], "default of " + request.url_parts.path
