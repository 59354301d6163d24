"""
``wptserve.handlers`` for handlers: the ``handler`` and ``json_handler``
decorators that real handler files put on ``main``.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from twisted_pyhandlers._errors import HTTPException
from twisted_pyhandlers._response import applyReturnValue

Main = Callable[[Any, Any], Any]


class FunctionHandler:
    """
    Wraps a ``main``-like function: calls it and folds its return value into
    the response, as wptserve's FunctionHandler.  The server applies pipes
    once afterwards, so this does not.
    """

    def __init__(self, func: Main) -> None:
        self.func = func

    def __call__(self, request: Any, response: Any) -> None:
        try:
            value = self.func(request, response)
        except HTTPException:
            raise
        except Exception as error:
            raise HTTPException(500) from error
        if value is not None:
            applyReturnValue(response, value)


def handler(func: Main) -> FunctionHandler:
    """Decorator: ``main`` returns what a handler returns."""
    return FunctionHandler(func)


class JsonHandler:
    """Wraps a function whose return value (or last tuple item) is sent as JSON."""

    def __init__(self, func: Main) -> None:
        self.func = func

    def __call__(self, request: Any, response: Any) -> None:
        return FunctionHandler(self.handle_request)(request, response)

    def handle_request(self, request: Any, response: Any) -> Any:
        value = self.func(request, response)
        response.headers.set("Content-Type", "application/json")
        if isinstance(value, tuple):
            parts = list(value)
            encoded: Any = tuple(parts[:-1] + [json.dumps(parts[-1])])
            length = len(encoded[-1])
        else:
            encoded = json.dumps(value)
            length = len(encoded)
        response.headers.set("Content-Length", length)
        return encoded


def json_handler(func: Main) -> JsonHandler:
    """Decorator: ``main`` returns data to be sent as ``application/json``."""
    return JsonHandler(func)


__all__ = ["FunctionHandler", "JsonHandler", "handler", "json_handler"]
