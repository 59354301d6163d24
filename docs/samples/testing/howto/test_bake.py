from functools import partial

import httpx


def test_common_criteria(pyhandlers):
    server = pyhandlers()
    expect_json_post = partial(server.expect, method="POST", headers={"Content-Type": "application/json"})

    expect_json_post("/users").respond(json={"id": 1, "name": "Alice"}, status=201)
    expect_json_post("/items").respond(json={"id": 42, "name": "Widget"}, status=201)

    response = httpx.post(server.url("/users"), json={"name": "Alice"})
    assert (response.status_code, response.json()) == (201, {"id": 1, "name": "Alice"})
    response = httpx.post(server.url("/items"), json={"name": "Widget"})
    assert (response.status_code, response.json()) == (201, {"id": 42, "name": "Widget"})
