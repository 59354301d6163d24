# As web-platform-tests' webtransport/handlers/echo.py: the server opens a
# bidirectional stream when the session is established; data on a
# bidirectional stream is echoed on it, data on a unidirectional stream is
# echoed on a unidirectional stream the server opens for it, and every
# datagram is echoed.
streams_dict = {}


def session_established(session):
    session.create_bidirectional_stream()


def stream_data_received(session, stream_id: int, data: bytes, stream_ended: bool):
    if session.stream_is_unidirectional(stream_id):
        key = (session.session_id, stream_id)
        if key not in streams_dict:
            streams_dict[key] = session.create_unidirectional_stream()
        session.send_stream_data(streams_dict[key], data, end_stream=stream_ended)
        if stream_ended:
            del streams_dict[key]
        return
    session.send_stream_data(stream_id, data, end_stream=stream_ended)


def datagram_received(session, data: bytes):
    session.send_datagram(data)
