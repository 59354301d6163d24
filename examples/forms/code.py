# (code, headers, content): the reason phrase is the standard one.
def main(request, response):
    return 201, [("Content-Type", "text/plain"), ("Location", "/forms/none.py")], "created\n"
