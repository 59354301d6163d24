import httpx
import pytest


def test_query_params(pyhandlers):
    server = pyhandlers()
    with pytest.raises(ValueError):
        server.expect("/foo?user=bar")  # refused: the query goes in query=
    server.expect("/foo", query={"user": "user1", "group": "group1"}).times(2).respond("OK")
    assert httpx.get(server.url("/foo?user=user1&group=group1")).status_code == 200
    assert httpx.get(server.url("/foo?group=group1&user=user1")).status_code == 200
