import threading

import httpx


def test_clients_in_threads(pyhandlers):
    server = pyhandlers()
    server.expect("/foobar").once().respond("OK foobar")
    server.expect("/foobaz").once().respond("OK foobaz")
    clients = [threading.Thread(target=httpx.get, args=(server.url(path),)) for path in ("/foobar", "/foobaz")]
    for client in clients:
        client.start()
    server.requests.wait_for(times=2, timeout=5)  # both came (their answers may be on their way)
    for client in clients:
        client.join()
