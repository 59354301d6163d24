"""``wptserve.request`` for handlers: the request object's type."""

from twisted_pyhandlers.request import Request

__all__ = ["Request"]
