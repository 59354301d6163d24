"""``wptserve.request`` for handlers: the request object's type and its parts."""

from twisted_pyhandlers._encoding import isomorphic_decode, isomorphic_encode
from twisted_pyhandlers._errors import HTTPException
from twisted_pyhandlers._multidict import MultiDict, missing
from twisted_pyhandlers._request import (
    Authentication,
    Cookies,
    CookieValue,
    InputFile,
    Request,
    RequestHeaders,
    Server,
)
from twisted_pyhandlers._request import _BinaryCookieParser as BinaryCookieParser

__all__ = [
    "Authentication",
    "BinaryCookieParser",
    "CookieValue",
    "Cookies",
    "HTTPException",
    "InputFile",
    "MultiDict",
    "Request",
    "RequestHeaders",
    "Server",
    "isomorphic_decode",
    "isomorphic_encode",
    "missing",
]
