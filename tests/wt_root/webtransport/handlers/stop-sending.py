# Asks the client to stop sending on any stream it sends on (STOP_SENDING 7).
def stream_data_received(session, stream_id, data, stream_ended):
    session.stop_stream(stream_id, 7)
