import re

import httpx


def test_regexp(pyhandlers):
    server = pyhandlers()
    server.expect(re.compile("^/foo"), method="GET").respond("foo")
    assert httpx.get(server.url("/foobar")).text == "foo"


def test_own_path_matcher(pyhandlers):
    server = pyhandlers()
    server.expect(lambda path: path.startswith("/foo")).respond(json={"foo": "bar"})
    assert httpx.get(server.url("/foo/x")).json() == {"foo": "bar"}
