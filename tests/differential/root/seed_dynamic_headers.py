# fmt: off
# The seed's "Dynamic HTTP headers" example, verbatim.
def main(request, response):
    content_type = request.GET.first('content-type')
    headers = [('Content-Type', content_type)]

    return (200, 'my status text'), headers, 'my response content'
