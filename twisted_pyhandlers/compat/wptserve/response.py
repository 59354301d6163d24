"""
``wptserve.response`` for handlers: the response object, its headers and
writer, and multipart bodies.
"""

from twisted_pyhandlers._encoding import isomorphic_decode, isomorphic_encode
from twisted_pyhandlers._h11writer import ResponseWriter
from twisted_pyhandlers._response import MultipartContent, MultipartPart, Response, ResponseHeaders
from twisted_pyhandlers._response import _missing as missing
from twisted_pyhandlers.compat.wptserve.constants import h2_headers, response_codes
from twisted_pyhandlers.compat.wptserve.logger import get_logger

__all__ = [
    "MultipartContent",
    "MultipartPart",
    "Response",
    "ResponseHeaders",
    "ResponseWriter",
    "get_logger",
    "h2_headers",
    "isomorphic_decode",
    "isomorphic_encode",
    "missing",
    "response_codes",
]
