# Bare content: status 200, no Content-Type unless you set one.
def main(request, response):
    return "just the body\n"
