# ((code, reason), headers, content): every part of the status line chosen.
def main(request, response):
    return (418, "I'm a teapot, really"), [("Content-Type", "text/plain")], "short and stout\n"
