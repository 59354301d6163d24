"""
The :class:`twisted.web.server.Site` to serve handlers with.

:class:`HandlerSite` is a ``Site`` with what handlers need from the HTTP/1.x
layer beneath them:

- request header names *as the client sent them*: Twisted canonicalises
  every name (``x-test`` arrives as ``X-Test``), but wptserve's
  ``request.raw_headers`` keeps each field line's name in its own case and
  order, and real tests check it.  :class:`HandlerChannel` records each
  field line as it is parsed, on the request it belongs to, before its
  name is canonicalised; ``request.raw_headers`` reads that record.
- ``parsePOSTFormSubmission=False`` by default: handlers parse their own
  bodies (lazily, as on wptserve), so ``twisted.web`` must not parse, or
  refuse, a multipart body first.

A plain ``Site`` still serves a :class:`~twisted_pyhandlers.HandlerDirectory`;
it only loses the names as sent (``raw_headers`` then carries Twisted's
canonical names, grouped by name).

:class:`HandlerRequest` is the request class of the site.  It is where
request-level behaviour of our own goes (recording the header lines, and
the access log line of a request whose client went away).

The access log of a ``HandlerSite`` has one line per request, in Apache's
Combined Log Format (see :mod:`twisted_pyhandlers._accesslog`): requests
whose client went away, handler errors and responses a handler wrote
itself included, the size field counting body bytes only.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol
from twisted.web.server import Request, Site

from twisted_pyhandlers._accesslog import combinedLogFormatter, isAnsweredByRun, logUnfinished, markLogged

__all__ = ["HandlerChannel", "HandlerRequest", "HandlerSite", "ReceivedHeaders"]

#: ``(name, value)`` per header field line, in arrival order, the name as
#: the client wrote it and the value stripped of surrounding blanks (as
#: Twisted strips it).
ReceivedHeaders = List[Tuple[bytes, bytes]]


class HandlerRequest(Request):
    """
    The Twisted request of a :class:`HandlerSite`.

    :ivar receivedHeaders: every header field line of the request, as
        recorded by :class:`HandlerChannel`; None until the first one
        arrives (and for a request that did not come through that channel,
        e.g. over HTTP/2).

    Runs on the reactor thread.
    """

    receivedHeaders: Optional[ReceivedHeaders] = None
    #: Seconds the handler run took, for ``--verbose`` access logs; None
    #: when no handler ran.
    handlerRunTime: Optional[float] = None

    def connectionLost(self, reason: Any) -> None:
        """
        The connection went away: if the request had not finished and no
        handler run answers it (a plain static file mid-transfer), write
        its access log line now, with the status and the body bytes sent
        so far; a handler run writes its own line when it ends.
        """
        super().connectionLost(reason)
        if not isAnsweredByRun(self):
            logUnfinished(self)


class HandlerChannel(HTTPChannel):
    """
    An :class:`~twisted.web.http.HTTPChannel` that records each request
    header field line, name as sent, on the request being received (as
    ``receivedHeaders``), in addition to what Twisted does with it.

    Runs on the reactor thread.
    """

    def headerReceived(self, line: bytes) -> bool:
        """
        Let Twisted take the field line (it may refuse it and answer 400),
        then record it on the current request if Twisted accepted it.

        :param line: one header field line without its line end; folded
            continuation lines are already joined to it.
        :return: whether the field was valid (Twisted's answer).
        """
        accepted: bool = super().headerReceived(line)
        if accepted:
            request = self.requests[-1]
            name, _, value = line.partition(b":")
            received = getattr(request, "receivedHeaders", None)
            if received is None:
                received = request.receivedHeaders = []
            received.append((name, value.strip(b" \t")))
        return accepted


def _handlerChannelProtocol(factory: Any) -> _GenericHTTPChannelProtocol:
    """
    The protocol a :class:`HandlerSite` builds for a connection: Twisted's
    own wrapper (the one a plain ``Site`` uses, which switches to HTTP/2
    when TLS negotiates it) around a :class:`HandlerChannel`.
    """
    return _GenericHTTPChannelProtocol(HandlerChannel())


class HandlerSite(Site):
    """
    A :class:`~twisted.web.server.Site` for handler trees: requests are
    :class:`HandlerRequest`\\ s received by a :class:`HandlerChannel`, so
    handlers see request header names as sent, and request bodies are left
    to the handlers (``parsePOSTFormSubmission=False`` unless given).

    Takes every argument ``Site`` takes (``logPath``, ``timeout``,
    ``requestFactory`` ...)::

        site = HandlerSite(HandlerDirectory("/srv/tests"))
        reactor.listenTCP(8000, site, interface="127.0.0.1")

    A ``requestFactory`` of your own should subclass :class:`HandlerRequest`
    (any request object with a ``__dict__`` gets the record too).

    Its access log (``logPath``) is in Apache's Combined Log Format unless a
    ``logFormatter`` is given, with one line per request.
    """

    protocol = _handlerChannelProtocol  # type: ignore[assignment]
    requestFactory = HandlerRequest

    def __init__(
        self,
        resource: Any,
        requestFactory: Any = None,
        *args: Any,
        parsePOSTFormSubmission: bool = False,
        **kwargs: Any,
    ) -> None:
        if len(args) < 3:  # Site's positional (logPath, timeout, logFormatter)
            kwargs.setdefault("logFormatter", combinedLogFormatter)
        super().__init__(
            resource,
            requestFactory,
            *args,
            parsePOSTFormSubmission=parsePOSTFormSubmission,
            **kwargs,
        )

    def log(self, request: Any) -> None:
        """
        Write ``request``'s access log line, unless it was written already:
        one line per request, whichever way it ended.  Reactor thread.
        """
        if markLogged(request):
            super().log(request)
