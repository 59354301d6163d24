"""isomorphic_encode / isomorphic_decode / HTTPException from wptserve.utils."""

from wptserve.utils import HTTPException, isomorphic_decode, isomorphic_encode


def main(request, response):
    if request.GET.first(b"fail", None) == b"1":
        raise HTTPException(409, "asked to fail")
    value = isomorphic_decode(b"caf\xe9")
    return [("X-Decoded-Length", len(value))], isomorphic_encode(value)
