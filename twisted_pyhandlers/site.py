"""
The :class:`twisted.web.server.Site` to serve handlers with.

:class:`HandlerSite` is a ``Site`` with what handlers need from the HTTP/1.x
layer beneath them (it lives, with its channel :class:`HandlerChannel` and
request :class:`HandlerRequest`, in the private
:mod:`twisted_pyhandlers._h11protocol`; this module is its public face):

- request header names *as the client sent them*, which
  ``request.raw_headers`` reads;
- ``parsePOSTFormSubmission=False`` by default: handlers parse their own
  bodies (lazily, as on wptserve), so ``twisted.web`` must not parse, or
  refuse, a multipart body first;
- limits a hostile or broken client cannot get around (``headerTimeout``,
  ``maxBody`` and the line and header limits :data:`MAX_LINE`,
  :data:`MAX_HEADERS`, :data:`MAX_HEADER_BLOCK`), each answered with a
  status line before the connection closes.  See ``docs/threat-model.rst``.

A plain ``Site`` still serves a :class:`~twisted_pyhandlers.HandlerDirectory`;
it only loses the names as sent (``raw_headers`` then carries Twisted's
canonical names, grouped by name).

The access log of a ``HandlerSite`` has one line per request, in Apache's
Combined Log Format (see :mod:`twisted_pyhandlers._accesslog`): requests
whose client went away, handler errors and responses a handler wrote
itself included, the size field counting body bytes only.
"""

from __future__ import annotations

from twisted_pyhandlers._h11protocol import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY,
    MAX_HEADER_BLOCK,
    MAX_HEADERS,
    MAX_LINE,
    HandlerChannel,
    HandlerRequest,
    HandlerSite,
    ReceivedHeaders,
)

__all__ = [
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "MAX_HEADERS",
    "MAX_HEADER_BLOCK",
    "MAX_LINE",
    "HandlerChannel",
    "HandlerRequest",
    "HandlerSite",
    "ReceivedHeaders",
]
