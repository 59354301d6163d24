import httpx
import pytest


def test_connection_refused(pyhandlers):
    server = pyhandlers()
    server.stop()
    pytest.raises(httpx.ConnectError, httpx.get, server.url("/foo"))
