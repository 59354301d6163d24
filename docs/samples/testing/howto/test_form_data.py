import httpx


def test_form(pyhandlers):
    server = pyhandlers()
    server.expect("/form", method="POST", form={"name": "Jane Doe", "flag": ""}).respond("ok")
    response = httpx.post(server.url("/form"), data={"flag": "", "name": "Jane Doe"})
    assert response.text == "ok"
