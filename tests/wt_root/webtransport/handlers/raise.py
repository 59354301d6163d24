# A broken handler: echoes datagrams, but raises on stream data.
def stream_data_received(session, stream_id, data, stream_ended):
    raise ZeroDivisionError('no ' + data.decode())


def datagram_received(session, data):
    session.send_datagram(data)
