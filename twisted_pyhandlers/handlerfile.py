"""
One request's run of a ``*.py`` handler file: its module body executed in a
fresh namespace, then its ``main`` called; and, once the response is
written, that namespace let go.

Why letting go needs care: the functions a module body defines refer back to
its namespace (``main.__globals__``), so every run leaves a reference cycle
that only Python's cyclic garbage collector frees, with everything the module
body built: a handler with ``BODY = b"x" * 1048576`` at the top leaves a
mebibyte behind per request until the next collection, which in a server
that otherwise makes little garbage can be hundreds of requests away
(hundreds of MiB).  wptserve has the same cycle, but its per-request garbage
keeps the collector busy enough to hide it.

So once the response is written, :meth:`HandlerFileRun.release` empties the
namespace, unless something outside it can still run its code: a thread or
timer the handler started, a closure or bound method it handed out, a
traceback kept with an error.  Then the namespace is left to the collector,
exactly as on wptserve.
"""

from __future__ import annotations

import sys
from types import FunctionType
from typing import Any, Callable, Dict, Optional

from twisted_pyhandlers.context import HandlerContext
from twisted_pyhandlers.errors import HTTPException

Namespace = Dict[str, Any]


class HandlerFileRun:
    """
    Runs the handler file at ``path`` for one request (call it with the
    request and response), then releases its namespace.
    """

    def __init__(self, context: HandlerContext, path: str) -> None:
        self._context = context
        self._path = path
        self._namespace: Optional[Namespace] = None

    def __call__(self, request: Any, response: Any) -> Any:
        """Execute the file and call its ``main``.  Worker thread."""
        try:
            code = self._context.codeCache.get(self._path)
        except OSError:
            raise HTTPException(404)
        namespace: Namespace = {"__file__": self._path}
        self._namespace = namespace
        exec(code, namespace, namespace)
        main: Optional[Callable[[Any, Any], Any]] = namespace.get("main")
        if main is None:
            raise HTTPException(500, f"No main function in script {self._path}")
        return main(request, response)

    def release(self) -> None:
        """
        The response is written: empty the namespace if nothing outside it
        refers to it or to the functions it defines.  Any thread.
        """
        namespace, self._namespace = self._namespace, None
        if namespace is not None and _outsideReferences(namespace) == _NONE_OUTSIDE:
            namespace.clear()


def _outsideReferences(namespace: Namespace) -> int:
    """
    How many references to ``namespace`` there are besides those of the
    functions defined in it, or -1 when one of those functions is itself
    referred to from outside the namespace (it could still be called).

    Counted with :func:`sys.getrefcount`; the count of a namespace nothing
    else holds, seen through the same calls, is :data:`_NONE_OUTSIDE`.
    """
    functions = 0
    for value in namespace.values():
        if isinstance(value, FunctionType) and value.__globals__ is namespace:
            # Referred to by the namespace, by ``value`` and by getrefcount's
            # argument, and by nothing else.
            if sys.getrefcount(value) > 3:
                return -1
            functions += 1
    return sys.getrefcount(namespace) - functions


def _calibrate() -> int:
    """The :func:`_outsideReferences` of a namespace held by one local variable only."""
    namespace: Namespace = {}
    return _outsideReferences(namespace)


#: What :func:`_outsideReferences` counts for a namespace that only its own
#: functions and the caller's one variable refer to (measured, not assumed,
#: since how calls count references is up to the interpreter).
_NONE_OUTSIDE = _calibrate()
