"""``wptserve.response`` for handlers: the response object and multipart bodies."""

from twisted_pyhandlers._response import MultipartContent, Response, ResponseHeaders

__all__ = ["MultipartContent", "Response", "ResponseHeaders"]
