# As web-platform-tests' webtransport/handlers/abort-server-initiated-stream.py:
# opens a unidirectional stream, sends on it, and resets it with a code.
def session_established(session):
    stream_id = session.create_unidirectional_stream()
    session.send_stream_data(stream_id, b'hello')
    session.reset_stream(stream_id, code=0x52e4a40fa8db)
