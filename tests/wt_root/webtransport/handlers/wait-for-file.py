# A handler that blocks: on stream data it waits (up to 60 s) until the
# file named by the data exists, then echoes the data and ends the stream.
import os
import time


def stream_data_received(session, stream_id, data, stream_ended):
    deadline = time.monotonic() + 60
    while not os.path.exists(data.decode()) and time.monotonic() < deadline:
        time.sleep(0.01)
    session.send_stream_data(stream_id, data, end_stream=True)
