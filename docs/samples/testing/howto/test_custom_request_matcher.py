import json

import httpx


def even_value(request):
    try:
        value = json.loads(request.body)["value"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(value, int) and value % 2 == 0


def test_custom_request_matcher(pyhandlers):
    server = pyhandlers()
    server.expect("/foo", where=even_value).respond("OK")

    assert httpx.post(server.url("/foo"), json={"value": 42}).text == "OK"
    assert httpx.post(server.url("/foo"), json={"value": 198}).text == "OK"
    # An odd number matches nothing: nobody serves /foo then.
    assert httpx.post(server.url("/foo"), json={"value": 43}).status_code == 404
