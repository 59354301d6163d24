# As web-platform-tests' webtransport/handlers/server-close.py: closes the
# session as soon as it is established, with the code and reason of the
# CONNECT's query (?code=N&reason=TEXT), or with no close information.
from urllib.parse import parse_qsl, urlsplit


def session_established(session):
    path = None
    for key, value in session.request_headers:
        if key == b':path':
            path = value
    assert path is not None
    qs = dict(parse_qsl(urlsplit(path).query))
    code = qs.get(b'code')
    reason = qs.get(b'reason', b'')
    close_info = None if code is None else (int(code), reason)
    session.close(close_info)
