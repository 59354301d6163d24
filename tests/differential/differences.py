"""
Every difference from wptserve 4.0.3 that the differential suite allows, with
its reason.

Each one is named in ``docs/differences/handlers.rst`` (a test checks).  A
case that lists one fails if it does not actually occur, so the list cannot
outlive the difference.
"""

from __future__ import annotations

from .harness import KnownDifference

#: The seed's "Dynamic HTTP headers" example looks up a str key
#: (``request.GET.first('content-type')``); wptserve's MultiDict keys are
#: bytes, so it answers 500 KeyError.  docs/request.rst ("beyond wptserve") makes str
#: keys work, so ours answers 200.  Checked by a dedicated test, since the
#: whole response differs.
SEED_STR_KEY = KnownDifference(
    id="seed-str-key",
    fields=("status-line", "content-type", "content-length", "body"),
    reason="str keys work in request.GET (docs/request.rst, beyond wptserve); wptserve gives a 500 KeyError",
)

#: wptserve 4.0.3 builds ``request.headers`` with
#: ``HTTPMessage.getallmatchingheaders``, which never matches anything on
#: Python 3, so a field sent twice shows only its first value.  docs/request.rst says
#: several fields of one name join with ", " (and ``get_list`` lists them
#: all), which is what HTTP means.
REQUEST_HEADERS_JOINED = KnownDifference(
    id="request-headers-joined",
    fields=("content-length", "body"),
    reason="repeated request header fields are all kept and joined with ', ' "
    "(docs/request.rst); wptserve keeps only the first",
)

#: wptserve 4.0.3's ``unset_cookie`` re-appends the other cookies with
#: ``headers.append((name, value))`` (one tuple argument), which raises
#: TypeError whenever another cookie is set; ours removes just the named
#: cookie.  Checked by a dedicated test.
UNSET_COOKIE_OTHERS = KnownDifference(
    id="unset-cookie-others",
    fields=("status-line", "content-type", "content-length", "set-cookie", "body"),
    reason="unset_cookie works when other cookies are set; wptserve raises TypeError",
)

#: twisted.web's request-line parser accepts only printable ASCII in the
#: request target (RFC 9112 section 3.2) and answers anything else with a
#: bare 400 before a resource sees the request; wptserve (http.server) passes
#: such bytes through.  Browsers percent-encode, so test pages never send
#: them.  Checked by a dedicated test.
RAW_NON_ASCII_TARGET = KnownDifference(
    id="raw-non-ascii-target",
    fields=("status-line", "body"),
    reason="twisted.web refuses unescaped non-ASCII bytes in the request target (400)",
)

#: The server's own 404s name what was asked for (docs/handlers.rst,
#: "Errors"): a missing path's message is ``Not found: /PATH`` where
#: wptserve's is the bare code ``"404"``, and a method no route takes is
#: ``No handler for METHOD /PATH`` where wptserve's message is empty.  The
#: status line and the JSON shape are the same.
NOT_FOUND_NAMES_PATH = KnownDifference(
    id="not-found-names-path",
    fields=("content-length", "body"),
    reason="the server's own 404 messages name the path (and the method when no route takes it); "
    "wptserve's say \"404\" or nothing",
)

#: ``return 12345`` (content that is no body): wptserve writes the status
#: line and headers of a 200 and then fails on the body, so the client gets
#: an empty 200 (and a closed connection); ours answers 500 with a message
#: naming the value returned.  Checked by a dedicated test, since the whole
#: response differs.
RETURN_VALUE_REFUSED = KnownDifference(
    id="return-value-refused",
    fields=("status-line", "content-type", "content-length", "body"),
    reason="a return value that is no response is a 500 naming it; wptserve sends an empty 200",
)

#: A handler's 500 traceback starts at the handler's own frames; wptserve's
#: starts in its server code (handlers.py).  The JSON error comparison
#: tolerates different frames; a dedicated test pins both.
HANDLER_TRACEBACK = KnownDifference(
    id="handler-traceback",
    fields=("body",),
    reason="500 tracebacks leave out the server's frames that called the handler; wptserve's show them",
)

ALL: dict[str, KnownDifference] = {
    d.id: d
    for d in [
        SEED_STR_KEY,
        REQUEST_HEADERS_JOINED,
        UNSET_COOKIE_OTHERS,
        RAW_NON_ASCII_TARGET,
        NOT_FOUND_NAMES_PATH,
        RETURN_VALUE_REFUSED,
        HANDLER_TRACEBACK,
    ]
}


# -- HTTP/2 (test_h2_differential.py; documented in docs/differences/topology.rst) --

#: Our HTTP/2 responses carry Server, Date and (when the body is known in
#: full) Content-Length, as our HTTP/1.1 ones do; wptserve's h2 server
#: sends only the handler's headers (its error responses aside, which set
#: Content-Length).  Server and Date are never compared; a dedicated test
#: pins that wptserve sends neither and ours both.
H2_REQUIRED_HEADERS = KnownDifference(
    id="h2-required-headers",
    fields=("content-length",),
    reason="HTTP/2 responses carry Server, Date and Content-Length as HTTP/1.1 ones do; "
    "wptserve's h2 server sends only the handler's headers",
)

#: wptserve 4.0.3's HTTP/2 request looks the body's length up as
#: ``Content-Length`` in a dict of lower-case HTTP/2 names, never finds
#: it, and so ``request.body`` is always empty on its h2 server; ours holds
#: the DATA frames' bytes (``handle_data`` sees the frames on both).
H2_REQUEST_BODY = KnownDifference(
    id="h2-request-body",
    fields=("body",),
    reason="request.body on HTTP/2 holds the bytes of the DATA frames; on wptserve's h2 server it is always empty",
)

#: wptserve 4.0.3 builds an HTTP/2 request's URL from its server's scheme
#: name ``http2`` and its listening address, since it looks for a ``Host``
#: header that HTTP/2 requests do not have (``:authority`` is ignored);
#: ours is ``https://`` and the ``:authority``, as browsers see the page.
H2_REQUEST_URL = KnownDifference(
    id="h2-request-url",
    fields=("body",),
    reason="request.url on HTTP/2 is https://AUTHORITY/...; wptserve's is http2://ITS-ADDRESS:PORT/...",
)

H2: dict[str, KnownDifference] = {d.id: d for d in [H2_REQUIRED_HEADERS, H2_REQUEST_BODY, H2_REQUEST_URL]}
