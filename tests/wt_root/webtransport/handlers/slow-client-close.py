# client-close.py with a slow stream_data_received: bytes on a stream wait
# (up to 60 s) for the file named by ?flag= before anything is recorded, so
# that the client's FIN and close arrive while the handler is still busy.
import os
import time
from urllib.parse import parse_qsl, urlsplit


def session_established(session):
    qs = dict(parse_qsl(urlsplit(dict(session.request_headers)[b':path']).query))
    for name in (b'token', b'stream', b'flag'):
        session.dict_for_handlers[name.decode()] = qs[name].decode()


def stream_data_received(session, stream_id, data, stream_ended):
    deadline = time.monotonic() + 60
    while data and not os.path.exists(session.dict_for_handlers['flag']) and time.monotonic() < deadline:
        time.sleep(0.01)
    if stream_ended:
        session.stash.put(key=session.dict_for_handlers['stream'], value={'source': 'FIN'})


def session_closed(session, close_info, abruptly):
    decoded = None
    if close_info:
        decoded = {'code': close_info[0], 'reason': close_info[1].decode()}
    session.stash.put(key=session.dict_for_handlers['token'], value={'abruptly': abruptly, 'close_info': decoded})
