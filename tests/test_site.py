"""
:mod:`twisted_pyhandlers.site`: the Site ``twistd pyhandlers`` serves with,
driven over an in-memory transport (the wire-level checks are in
``test_request.py``, ``test_tap.py`` and the differential suite).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any, List

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.web.http import _GenericHTTPChannelProtocol
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from twisted_pyhandlers.site import HandlerChannel, HandlerRequest, HandlerSite


def test_defaults() -> None:
    """
    A HandlerSite is a Site whose requests are HandlerRequests and which
    leaves request bodies to the handlers unless told otherwise.
    """
    site = HandlerSite(Resource())
    assert isinstance(site, Site)
    assert site.requestFactory is HandlerRequest
    assert site._parsePOSTFormSubmission is False
    assert HandlerSite(Resource(), parsePOSTFormSubmission=True)._parsePOSTFormSubmission is True


def test_protocolIsTwistedsWrapperAroundOurChannel() -> None:
    """
    Each connection gets Twisted's own protocol wrapper (the one a plain
    Site uses, which can switch to HTTP/2) around a HandlerChannel, wired
    to the site as a plain Site wires it.
    """
    site = HandlerSite(Resource())
    protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
    assert isinstance(protocol, _GenericHTTPChannelProtocol)
    channel = protocol._channel
    assert isinstance(channel, HandlerChannel)
    assert channel.site is site
    assert channel.requestFactory is HandlerRequest


def test_ownRequestFactoryGetsTheRecord() -> None:
    """
    A requestFactory of the user's own, not a HandlerRequest, still gets
    the field lines recorded as ``receivedHeaders``.
    """
    seen: List[Any] = []

    class Mine(Request):
        def process(self) -> None:
            seen.append(self.receivedHeaders)
            self.finish()

    site = HandlerSite(Resource(), requestFactory=Mine)
    protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
    protocol.makeConnection(StringTransport())
    protocol.dataReceived(b"GET / HTTP/1.1\r\nhOsT: h\r\nX-a:  1 \r\n\r\n")
    assert seen == [[(b"hOsT", b"h"), (b"X-a", b"1")]]


def test_bodiesKeptWhereTwistedKeepsThem() -> None:
    """
    The site's content-file hook keeps a body where Twisted's own request
    would (in memory under 100,000 bytes, else a temporary file), and a
    request's body arrives whole either way.
    """
    bodies: List[Any] = []

    class Keep(Request):
        def process(self) -> None:
            self.content.seek(0)
            bodies.append((type(self.content), self.content.read()))
            self.finish()

    site = HandlerSite(Resource(), requestFactory=Keep)
    protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
    protocol.makeConnection(StringTransport())
    for size in (10, 150_000):
        body = b"x" * size
        protocol.dataReceived(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (size, body))
    (smallType, small), (largeType, large) = bodies
    assert smallType is BytesIO and small == b"x" * 10
    assert largeType is not BytesIO and hasattr(largeType, "fileno") and large == b"x" * 150_000
