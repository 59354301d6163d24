import httpx

DIGEST = ('Digest username="Mufasa",realm="testrealm@host.com",nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",'
          'uri="/dir/index.html",qop=auth,nc=00000001,cnonce="0a4f113b",'
          'response="6629fae49393a05397450978507c4ef1",opaque="5ccc069c403ebaf9f0171e9517f40e41"')
REORDERED = "Digest " + ",".join(reversed(DIGEST.removeprefix("Digest ").split(",")))


def digest_params(value):
    return value is not None and sorted(value.removeprefix("Digest ").split(","))


def test_authorization_headers(pyhandlers):
    server = pyhandlers()
    same_digest = lambda value: digest_params(value) == digest_params(DIGEST)  # noqa: E731
    server.expect("/", headers={"Authorization": same_digest}).respond("OK")
    for value in (DIGEST, REORDERED):
        response = httpx.get(server.url("/"), headers={"Authorization": value})
        assert (response.status_code, response.text) == (200, "OK")
