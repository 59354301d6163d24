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
import os
import traceback
from types import TracebackType
from typing import Optional

import twisted

#: Where the server's own code lives: our package and Twisted.  A handler's
#: traceback starts at its first frame outside these.
_SERVER_DIRECTORIES = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep for path in (__file__, twisted.__file__)
)


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


class NotFound(HTTPException):
    """
    The server's own 404 for a path that names nothing (or a file that went
    away): its error message names the path, where wptserve's is the bare
    code (``"404"``).

    :param path: the URL path asked for.
    """

    def __init__(self, path: str) -> None:
        super().__init__(404, f"Not found: {path}")

    def __str__(self) -> str:
        return self.message or ""


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


class ReturnValueError(TypeError):
    """
    ``main`` returned a value that no return form accepts (``return 12345``):
    the 500 says what was returned; a traceback of the server's frames would
    say nothing more.
    """


def _isServerFrame(tb: TracebackType) -> bool:
    """Whether a traceback entry is in the server's code (ours or Twisted's)."""
    return os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_SERVER_DIRECTORIES)


def handlerTraceback(tb: Optional[TracebackType]) -> Optional[TracebackType]:
    """
    ``tb`` from the handler's own frames inward: the server's frames that
    called the handler are left out (the frames it calls into, our request
    API included, are kept).  An error raised in the server's code alone
    keeps its whole traceback.
    """
    start = tb
    while start is not None and _isServerFrame(start):
        start = start.tb_next
    return tb if start is None else start


def formatServerError(url: str, error: Optional[BaseException]) -> str:
    """
    The message of a 5xx error body: names the URL and carries the
    traceback, worded as wptserve words it, from the handler's own frames
    inward (wptserve's starts in its own server code).
    """
    if error is None:
        suffix = "<no traceback>"
    elif isinstance(error, ReturnValueError):
        suffix = f"{error}\n"
    else:
        entries = traceback.format_tb(handlerTraceback(error.__traceback__))
        tb = "\n".join(f"  {line}" for line in entries)
        suffix = f"Traceback (most recent call last):\n{tb}  {type(error).__name__}: {error}\n"
    return f"Internal server error loading {url}:\n  {suffix}"


def errorBody(code: int, message: str) -> bytes:
    """The JSON error body wptserve sends for ``code`` and ``message``."""
    return json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")
