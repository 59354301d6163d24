# A handler whose connect_received raises: the CONNECT is answered 500.
def connect_received(request_headers, response_headers):
    raise RuntimeError('refusing ' + dict(request_headers)[b':path'].decode())
