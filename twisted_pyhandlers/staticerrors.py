"""
wptserve's JSON error answers, for the parts of the file side that answer
from the reactor thread without running any handler-style function.
"""

from __future__ import annotations

from twisted.web.iweb import IRequest

from twisted_pyhandlers.errors import errorBody


def jsonError(request: IRequest, code: int, message: str = "") -> bytes:
    """
    Set ``request`` up for wptserve's error shape and return the body:
    status ``code``, ``Content-Type: application/json`` and
    ``{"error": {"code": code, "message": message}}``.

    Runs in the reactor thread.
    """
    body = errorBody(code, message)
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"application/json")
    request.setHeader(b"Content-Length", b"%d" % (len(body),))
    return body


def methodNotRouted(request: IRequest) -> bytes:
    """
    The answer to a method other than GET or HEAD on a static file, an
    ``.asis`` file or a directory listing.

    wptserve routes those only for GET (HEAD follows GET), so any other
    method finds no handler and gets its bare 404; we answer the same.
    """
    return jsonError(request, 404)
