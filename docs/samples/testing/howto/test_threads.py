from concurrent.futures import ThreadPoolExecutor

import httpx


def test_clients_in_threads(pyhandlers):
    server = pyhandlers()
    server.expect("/foobar").once().respond("OK foobar")
    server.expect("/foobaz").once().respond("OK foobaz")
    with ThreadPoolExecutor(2) as clients:
        answers = clients.map(httpx.get, [server.url("/foobar"), server.url("/foobaz")])
    assert [answer.text for answer in answers] == ["OK foobar", "OK foobaz"]
