"""``wptserve.request`` for handlers: the request object's type."""

from twisted_pyhandlers._request import Request

__all__ = ["Request"]
