"""
Running one handler script file: what it can import, its compiled code, and
one request's run of it.

Three things, one job (running a ``*.py`` file the way wptserve does, only
faster):

**What handler code can import.**
- The document root is importable, so ``from cookies.resources import
  helpers`` and ``importlib.import_module("a-b.resources.helper")`` work,
  as in a web-platform-tests checkout.
- ``import wptserve...`` works with no wptserve installed: the names real
  handlers use (``wptserve.utils``, ``wptserve.handlers``,
  ``wptserve.constants``, ``wptserve.pipes``, ``wptserve.stash``) are served
  from :mod:`twisted_pyhandlers.compat.wptserve`.  Where a real wptserve is
  installed, it is the one imported: we only fill the gap.

**Compiled code.**
wptserve reads and compiles a handler file on every request.  We compile it
once and reuse the code object until the file changes: an edited file takes
effect on the next request (its mtime or size differs), an unchanged one is
never re-read.  The module body still runs for every request, in a fresh
namespace, exactly as on wptserve.

**One request's run.**
Its module body is executed in a
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

So once the response is written, :meth:`HandlerScript.release` empties the
namespace, unless something outside it can still run its code: a thread or
timer the handler started, a closure or bound method it handed out, a
traceback kept with an error.  Then the namespace is left to the collector,
exactly as on wptserve.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
from types import CodeType, FunctionType, ModuleType
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from twisted_pyhandlers._context import CompiledCode
from twisted_pyhandlers._errors import HTTPException, NotFound

_COMPAT_PACKAGE = "twisted_pyhandlers.compat.wptserve"
_lock = threading.Lock()


def makeImportable(root: str) -> None:
    """
    Put ``root`` on ``sys.path`` (once).  It goes last, so a directory of
    the root never hides the standard library or an installed package.
    """
    with _lock:
        if root not in sys.path:
            sys.path.append(root)


class _WptserveCompatFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """
    Serves ``wptserve`` and ``wptserve.*`` from our compatibility package
    when no real wptserve can be found.  It sits at the end of
    ``sys.meta_path``, so it is asked only after every normal finder failed.
    """

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]],
        target: Optional[ModuleType] = None,
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != "wptserve" and not fullname.startswith("wptserve."):
            return None
        compatName = _COMPAT_PACKAGE + fullname[len("wptserve"):]
        if importlib.util.find_spec(compatName) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=fullname == "wptserve")

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        # The very module object of the compatibility package, so that
        # ``wptserve.utils.HTTPException is twisted_pyhandlers...HTTPException``.
        return importlib.import_module(_COMPAT_PACKAGE + spec.name[len("wptserve"):])

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the compatibility module is already executed."""


def installWptserveCompat() -> None:
    """Make ``import wptserve`` work in handlers (once per process)."""
    with _lock:
        if not any(isinstance(finder, _WptserveCompatFinder) for finder in sys.meta_path):
            sys.meta_path.append(_WptserveCompatFinder())


Signature = Tuple[int, int]


class CodeCache:
    """
    A thread-safe map from a handler's path to its compiled code.

    Called from handler threads; one ``os.stat`` per request is the whole
    cost of a cache hit, none when the tree's lookup of the request hands
    over what its own ``lstat`` found.

    :ivar compilations: how many times a file was read and compiled (tests
        and the benchmark read it).
    """

    def __init__(self) -> None:
        self._entries: Dict[str, Tuple[Signature, CodeType]] = {}
        self._lock = threading.Lock()
        self.compilations = 0

    def get(self, path: str, signature: Optional[Signature] = None) -> CodeType:
        """
        The code object for the file at ``path``, compiled only if the file
        is new or changed since last time.

        :param signature: the file's ``(st_mtime_ns, st_size)`` as the
            tree's lookup of this request just found them, or None to ask
            the disk here.
        :raises OSError: if the file cannot be read.
        :raises SyntaxError: if it does not compile (not cached, so fixing
            the file fixes the next request).
        """
        if signature is None:
            stat = os.stat(path)
            signature = (stat.st_mtime_ns, stat.st_size)
        entry = self._entries.get(path)
        if entry is not None and entry[0] == signature:
            return entry[1]
        with open(path, "rb") as source:
            code = compile(source.read(), path, "exec")
        with self._lock:
            self._entries[path] = (signature, code)
            self.compilations += 1
        return code


Namespace = Dict[str, Any]


class HandlerScript:
    """
    One request's run of the handler file at ``path``: call it with the
    request and response, then :meth:`release` its namespace once the
    response is written.
    """

    def __init__(self, codeCache: CompiledCode, path: str, signature: Optional[Signature] = None) -> None:
        self._codeCache = codeCache
        self._path = path
        self._signature = signature
        self._namespace: Optional[Namespace] = None
        self._stepError: Optional[BaseException] = None
        self._framesSeen = False

    def _load(self, request: Any) -> Namespace:
        """Execute the file's module body in a fresh namespace (once per run).  Worker thread."""
        if self._namespace is not None:
            return self._namespace
        try:
            code = self._codeCache.get(self._path, self._signature)
        except OSError:
            raise NotFound(request.url_parts.path)
        namespace: Namespace = {"__file__": self._path}
        self._namespace = namespace
        exec(code, namespace, namespace)
        return namespace

    def __call__(self, request: Any, response: Any) -> Any:
        """
        Execute the file and call its ``main``.  On an HTTP/2 stream whose
        frame steps ran first, re-raise what they raised, and let a file
        with only ``handle_headers``/``handle_data`` have no ``main`` (as
        wptserve).  Worker thread.
        """
        if self._stepError is not None:
            error, self._stepError = self._stepError, None
            raise error
        namespace = self._load(request)
        main: Optional[Callable[[Any, Any], Any]] = namespace.get("main")
        if main is None:
            if self._framesSeen and ("handle_headers" in namespace or "handle_data" in namespace):
                return None
            if self._framesSeen:
                raise HTTPException(500, f"No main function or handlers in script {self._path}")
            raise HTTPException(500, f"No main function in script {self._path}")
        return main(request, response)

    def frameStep(self, name: str, frame: Any, request: Any, response: Any) -> None:
        """
        An HTTP/2 stream's step: load the file (on the first step), then
        call its ``name`` function (``handle_headers`` or ``handle_data``)
        with ``(frame, request, response)`` if it has one.  After a step
        fails, later steps do nothing and ``main`` raises its error.
        Worker thread.
        """
        self._framesSeen = True
        if self._stepError is not None:
            return
        try:
            function = self._load(request).get(name)
            if function is not None:
                function(frame, request, response)
        except BaseException as error:
            self._stepError = error

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
