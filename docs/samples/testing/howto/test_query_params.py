import httpx
import pytest


def test_query_string(pyhandlers):
    server = pyhandlers()
    with pytest.raises(ValueError, match="query="):
        server.expect("/foo?user=bar")  # refused: the query goes in query=
    server.expect("/foo", query="user=bar").respond("OK")
    assert httpx.get(server.url("/foo?user=bar")).text == "OK"


def test_query_params_dict(pyhandlers):
    server = pyhandlers()
    server.expect("/foo", query={"user": "user1", "group": "group1"}).times(2).respond("OK")
    assert httpx.get(server.url("/foo?user=user1&group=group1")).status_code == 200
    assert httpx.get(server.url("/foo?group=group1&user=user1")).status_code == 200
