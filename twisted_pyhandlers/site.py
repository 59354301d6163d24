"""
The :class:`twisted.web.server.Site` to serve handlers with.

:class:`HandlerSite` is a ``Site`` with what handlers need from the HTTP/1.x
layer beneath them (the protocol itself, :class:`HandlerChannel` and
:class:`HandlerRequest`, lives in :mod:`twisted_pyhandlers._h11protocol`):

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

import tempfile
from io import BytesIO
from typing import IO, Any, Optional

from twisted.web.server import Site

from twisted_pyhandlers._accesslog import combinedLogFormatter
from twisted_pyhandlers._h11protocol import (
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY,
    MAX_HEADER_BLOCK,
    MAX_HEADERS,
    MAX_LINE,
    HandlerChannel,
    HandlerRequest,
    ReceivedHeaders,
    handlerChannelProtocol,
)
from twisted_pyhandlers._interfaces import IHandlerRequest

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


class HandlerSite(Site):
    """
    A :class:`~twisted.web.server.Site` for handler trees: requests are
    :class:`HandlerRequest`\\ s received by a :class:`HandlerChannel`, so
    handlers see request header names as sent, and request bodies are left
    to the handlers (``parsePOSTFormSubmission=False`` unless given).

    Takes every argument ``Site`` takes (``logPath``, ``requestFactory``
    ...; ``timeout``, the idle timeout of a connection between requests,
    defaults to :data:`DEFAULT_IDLE_TIMEOUT`), and ``headerTimeout`` and
    ``maxBody`` (see :class:`HandlerChannel`)::

        site = HandlerSite(HandlerDirectory("/srv/tests"))
        reactor.listenTCP(8000, site, interface="127.0.0.1")

    A ``requestFactory`` of your own should subclass :class:`HandlerRequest`
    (any request object with a ``__dict__`` gets the record too).

    Its access log (``logPath``) is in Apache's Combined Log Format unless a
    ``logFormatter`` is given, with one line per request.
    """

    protocol = handlerChannelProtocol  # type: ignore[assignment]
    requestFactory = HandlerRequest

    def __init__(
        self,
        resource: Any,
        requestFactory: Any = None,
        *args: Any,
        parsePOSTFormSubmission: bool = False,
        headerTimeout: Optional[float] = DEFAULT_HEADER_TIMEOUT,
        maxBody: Optional[int] = DEFAULT_MAX_BODY,
        **kwargs: Any,
    ) -> None:
        self.headerTimeout = headerTimeout
        self.maxBody = maxBody
        if len(args) < 3:  # Site's positional (logPath, timeout, logFormatter)
            kwargs.setdefault("logFormatter", combinedLogFormatter)
        if len(args) < 2:
            kwargs.setdefault("timeout", DEFAULT_IDLE_TIMEOUT)
        super().__init__(
            resource,
            requestFactory,
            *args,
            parsePOSTFormSubmission=parsePOSTFormSubmission,
            **kwargs,
        )

    def getContentFile(self, length: Optional[int]) -> IO[bytes]:
        """
        Where a request's body is kept: in memory under 100,000 bytes, else
        a temporary file, as Twisted's own ``Request.gotLength`` decides.
        Twisted's ``server.Request`` asks its site for this hook on every
        request and, on a plain ``Site``, raises and catches an
        ``AttributeError`` to find that it is missing; here it is found.
        Reactor thread.
        """
        if length is not None and length < 100000:
            return BytesIO()
        return tempfile.TemporaryFile()

    def log(self, request: Any) -> None:
        """
        Write ``request``'s access log line, unless it was written already:
        one line per request, whichever way it ended.  Reactor thread.
        """
        if IHandlerRequest.providedBy(request):
            if request.accessLogged:
                return
            request.accessLogged = True
        super().log(request)
