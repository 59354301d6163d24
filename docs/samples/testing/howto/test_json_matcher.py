import httpx


def test_json_matcher(pyhandlers):
    server = pyhandlers()
    server.expect("/foo", json={"foo": "bar"}).respond("Hello world!")
    response = httpx.request("GET", server.url("/foo"), json={"foo": "bar"})
    assert response.status_code == 200
    assert response.text == "Hello world!"
