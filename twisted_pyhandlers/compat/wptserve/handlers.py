"""
``wptserve.handlers`` for handlers: the ``handler`` and ``json_handler``
decorators that real handler files put on ``main``, and wptserve's helpers
for paths, content types and ``.headers`` files.

wptserve's route handler classes (``file_handler``, ``python_script_handler``,
``as_is_handler``, ``ErrorHandler``...) are not here: the server's resource
tree does their work (see ``docs/differences/surface.rst``).
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, List, Optional, Tuple
from urllib.parse import unquote

from twisted.python.filepath import FilePath

from twisted_pyhandlers._errors import HTTPException
from twisted_pyhandlers._pipes import Pipeline, parse_qs, wrap_pipeline
from twisted_pyhandlers._request import Authentication
from twisted_pyhandlers._response import MultipartContent, applyReturnValue
from twisted_pyhandlers._static import headerSources, loadHeaders
from twisted_pyhandlers._templates import template
from twisted_pyhandlers.compat.wptserve.constants import content_types

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


def guess_content_type(path: str) -> str:
    """
    The content type wptserve's table gives the extension of ``path``
    (case-sensitive), or ``application/octet-stream``.
    """
    extension = os.path.splitext(path)[1].lstrip(".")
    return content_types.get(extension, "application/octet-stream")


def filesystem_path(base_path: Optional[str], request: Any, url_base: str = "/") -> str:
    """
    The file-system path the request's URL path names below ``base_path``
    (the document root when None), as wptserve computes it.

    :raises HTTPException: 404 for a path with ``..`` or one that would
        leave ``base_path``.
    """
    if base_path is None:
        base_path = request.doc_root
    path = unquote(request.url_parts.path)
    if path.startswith(url_base):
        path = path[len(url_base):]
    if ".." in path:
        raise HTTPException(404)
    new_path = os.path.join(base_path, path)
    if not new_path.startswith(base_path):
        raise HTTPException(404)
    return new_path


def load_headers(request: Any, path: str) -> List[Tuple[bytes, bytes]]:
    """
    The header lines of the ``__dir__`` and ``path`` companion files
    (``.headers``, or ``.sub.headers`` run through the template), in that
    order, as ``(name, value)`` bytes pairs.  Blocks on the file system:
    call it from a handler thread.
    """
    return loadHeaders(request, headerSources(FilePath(path)))


__all__ = [
    "Authentication",
    "FunctionHandler",
    "HTTPException",
    "JsonHandler",
    "MultipartContent",
    "Pipeline",
    "content_types",
    "filesystem_path",
    "guess_content_type",
    "handler",
    "json_handler",
    "load_headers",
    "parse_qs",
    "template",
    "wrap_pipeline",
]
