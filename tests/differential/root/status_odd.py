"""Odd status codes with and without reason phrases: ?code=N[&reason=R]."""

from wptserve.utils import isomorphic_decode


def main(request, response):
    code = int(request.GET.first(b"code"))
    if b"reason" in request.GET:
        response.status = (code, isomorphic_decode(request.GET.first(b"reason")))
    else:
        response.status = code
    return "odd"
