import time

import httpx
import pytest


def test_timeout(pyhandlers):
    def sleeping(request, response):
        time.sleep(0.5)  # longer than the client's timeout

    server = pyhandlers(handlers={"/baz": sleeping})
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url("/baz"), timeout=0.1)
