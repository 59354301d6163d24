# Answers the CONNECT with the status of its ?status= (wpt's
# custom-response.py does the same for its tests of refused sessions).
from urllib.parse import parse_qsl, urlsplit


def connect_received(request_headers, response_headers):
    path = dict(request_headers)[b':path']
    status = dict(parse_qsl(urlsplit(path).query)).get(b'status')
    if status is not None:
        response_headers.append((b':status', status))


def session_established(session):
    raise AssertionError('a refused session is never established')
