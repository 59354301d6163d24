# The "Dynamic HTTP headers" example of wptserve's documentation, verbatim:
# the requester chooses the Content-Type.  Try
#   curl -i 'http://127.0.0.1:8000/resources/example.py?content-type=text/foobar'
def main(request, response):
    content_type = request.GET.first('content-type')
    headers = [('Content-Type', content_type)]

    return (200, 'my status text'), headers, 'my response content'
