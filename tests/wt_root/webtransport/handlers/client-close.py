# After web-platform-tests' webtransport/handlers/client-close.py: records
# in the stash, under the CONNECT's ?token=, how the client ended its
# stream (a reset and its code, or FIN) and how it closed the session (its
# code and reason, and whether abruptly), for an HTTP handler to read back.
# Each record has a key of its own (the stream's under ?stream=, the
# session's under ?token=; both UUIDs, as stash keys are), so that a reader
# never races the writer.
from urllib.parse import parse_qsl, urlsplit


def session_established(session):
    path = None
    for key, value in session.request_headers:
        if key == b':path':
            path = value
    qs = dict(parse_qsl(urlsplit(path).query))
    session.dict_for_handlers['token'] = qs[b'token'].decode()
    session.dict_for_handlers['stream'] = qs[b'stream'].decode()
    session.create_bidirectional_stream()


def stream_reset(session, stream_id, error_code):
    key = session.dict_for_handlers['stream']
    session.stash.put(key=key, value={'source': 'reset', 'code': error_code})


def stream_data_received(session, stream_id, data, stream_ended):
    if stream_ended:
        key = session.dict_for_handlers['stream']
        session.stash.put(key=key, value={'source': 'FIN'})


def session_closed(session, close_info, abruptly):
    token = session.dict_for_handlers['token']
    decoded = None
    if close_info:
        decoded = {'code': close_info[0], 'reason': close_info[1].decode()}
    session.stash.put(key=token, value={'abruptly': abruptly, 'close_info': decoded})
