"""
Errors, in one place: the exception handlers raise to answer with a status,
the JSON error body every failure is turned into, and its 5xx message with
the traceback.  Every error answer of the server, from a handler or from
the server itself (a 404, a method not routed), is made from these by
``Response.set_error``.

The body shape ``{"error": {"code": ..., "message": ...}}`` is wptserve's, so
test harnesses that parse it keep working.
"""

from __future__ import annotations

import json
import traceback
from typing import Optional


class HTTPException(Exception):
    """
    Raised by a handler (or by the server) to answer with ``code``.

    :ivar code: the HTTP status code.
    :ivar message: the message placed in the JSON error body, or None.
    """

    def __init__(self, code: int, message: Optional[str] = "") -> None:
        # Exception.__init__ is deliberately not called with (code, message):
        # wptserve's str(error) is that of the arguments as given ("404", or
        # "(403, 'message')"), and it ends up in 4xx error bodies.
        self.code = code
        self.message = message


def isHTTPException(error: BaseException) -> bool:
    """
    Whether ``error`` is an HTTPException: ours, or one of the same shape
    from a real wptserve installation (a class named ``HTTPException`` with an
    integer ``code``), so handlers that import wptserve's still get their
    status.
    """
    if isinstance(error, HTTPException):
        return True
    return type(error).__name__ == "HTTPException" and isinstance(
        getattr(error, "code", None), int
    )


def errorCause(error: BaseException) -> BaseException:
    """
    The exception behind ``error`` (its cause, else its context, else
    itself): wptserve reports that one for a 5xx, so a handler's
    ``raise HTTPException(500) from e`` shows ``e``'s traceback.
    """
    if error.__cause__ is not None:
        return error.__cause__
    if error.__context__ is not None:
        return error.__context__
    return error


def formatServerError(url: str, error: Optional[BaseException]) -> str:
    """
    The message of a 5xx error body: names the URL and carries the
    traceback, exactly as wptserve words it.
    """
    if error is None:
        suffix = "<no traceback>"
    else:
        tb = "\n".join(f"  {line}" for line in traceback.format_tb(error.__traceback__))
        suffix = f"Traceback (most recent call last):\n{tb}  {type(error).__name__}: {error}\n"
    return f"Internal server error loading {url}:\n  {suffix}"


def errorBody(code: int, message: str) -> bytes:
    """The JSON error body wptserve sends for ``code`` and ``message``."""
    return json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")
