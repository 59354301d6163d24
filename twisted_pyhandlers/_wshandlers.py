"""
The ``*_wsh.py`` WebSocket handler files: where they are, how they are
loaded, and what they can import.

The rules are pywebsocket's, as wptserve starts it (wpt's
``tools/serve/serve.py`` runs pywebsocket3's server with ``-w`` set to the
config's ``ws_doc_root``, ``websockets/handlers`` under the document root):

- every file under the handler directory whose name ends in ``_wsh.py``
  (any case) is a handler; ``DIR/echo_wsh.py`` answers ``/echo``,
  ``DIR/a/b_wsh.py`` answers ``/a/b``;
- the files are read and run once, at start-up (an edit needs a restart);
  a file that fails to load is skipped with a warning, as pywebsocket does;
- a handler defines ``web_socket_do_extra_handshake(request)`` and
  ``web_socket_transfer_data(request)``, optionally
  ``web_socket_passive_closing_handshake(request)``.

Handler files import ``mod_pywebsocket`` (the name pywebsocket had before
it became the ``pywebsocket3`` package): :func:`installModPywebsocket`
makes that name, and each of its submodules, the very ``pywebsocket3``
modules, so that ``AbortedByUserException`` raised by a handler is the
class pywebsocket catches.  In those files ``wptserve`` is always our
:mod:`twisted_pyhandlers.compat.wptserve` (even where a real wptserve is
installed): a real wptserve's stash would look for a ``multiprocessing``
manager this server does not run, ours reaches the server's own stash.
"""

from __future__ import annotations

import builtins
import importlib
import io
import os
import pkgutil
import sys
import threading
import traceback
from types import ModuleType
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import pywebsocket3
from pywebsocket3 import dispatch

from twisted_pyhandlers.stash import Stash, StashStore

#: The handler directory, relative to the document root, when none is
#: named: where a web-platform-tests checkout keeps them.
DEFAULT_WS_HANDLERS = os.path.join("websockets", "handlers")

_ALIAS = "mod_pywebsocket"
_COMPAT_PACKAGE = "twisted_pyhandlers.compat.wptserve"
_lock = threading.Lock()


def installModPywebsocket() -> None:
    """
    Make ``import mod_pywebsocket`` (and ``mod_pywebsocket.handshake.hybi``
    and every other submodule) give the ``pywebsocket3`` modules.  Once per
    process; any thread.
    """
    with _lock:
        if _ALIAS in sys.modules:
            return
        modules: Dict[str, ModuleType] = {_ALIAS: pywebsocket3}
        for info in pkgutil.walk_packages(pywebsocket3.__path__, "pywebsocket3."):
            module = importlib.import_module(info.name)
            modules[_ALIAS + info.name[len("pywebsocket3"):]] = module
        sys.modules.update(modules)


def _importCompat(name: str, fromlist: Sequence[str]) -> ModuleType:
    """``__import__`` of ``wptserve[.x]``, served by our compatibility package."""
    target = importlib.import_module(_COMPAT_PACKAGE + name[len("wptserve"):])
    if not fromlist:
        # "import wptserve.stash" binds the top package, "wptserve".
        return importlib.import_module(_COMPAT_PACKAGE)
    for item in fromlist:
        if item != "*" and not hasattr(target, item):
            try:
                importlib.import_module(f"{target.__name__}.{item}")
            except ImportError:
                pass  # not a submodule: "from x import y" raises ImportError itself
    return target


def _handlerImport(
    name: str,
    globals: Optional[Mapping[str, Any]] = None,
    locals: Optional[Mapping[str, Any]] = None,
    fromlist: Sequence[str] = (),
    level: int = 0,
) -> ModuleType:
    """The ``__import__`` of handler files: ``wptserve`` is ours, the rest as usual."""
    if level == 0 and (name == "wptserve" or name.startswith("wptserve.")):
        return _importCompat(name, fromlist or ())
    return builtins.__import__(name, globals, locals, fromlist, level)


#: The builtins handler files run with.
_HANDLER_BUILTINS = dict(vars(builtins), __import__=_handlerImport)


class ServerView:
    """
    ``request.server`` of a WebSocket handler: the stash and config Python
    handlers see as ``request.server.stash`` and ``request.server.config``
    (pywebsocket's requests have no such attribute; ours add it).

    :ivar stash: a :class:`~twisted_pyhandlers.stash.Stash` whose default
        path is the WebSocket's resource path (``/echo``).
    :ivar config: the server config.
    """

    def __init__(self, stash: Stash, config: Any) -> None:
        self.stash = stash
        self.config = config


class HandlerDispatcher(dispatch.Dispatcher):
    """
    pywebsocket's :class:`~pywebsocket3.dispatch.Dispatcher` (it finds the
    handler of a resource and calls it, with pywebsocket's error handling),
    loading the files with our imports and giving each request
    ``request.server``.

    Made at start-up (it reads every handler file); used from handler
    threads, which pywebsocket's dispatcher allows.

    :param directory: the handler directory (absolute).
    :param stashStore: the server's stash store.
    :param config: the server config.
    """

    def __init__(self, directory: str, stashStore: StashStore, config: Any) -> None:
        installModPywebsocket()
        self.directory = directory
        self._stashStore = stashStore
        self._config = config
        super().__init__(directory, None, False)

    def _source_handler_files_in_dir(
        self, root_dir: str, scan_dir: str, allow_handlers_outside_root_dir: bool, handler_encoding: Optional[str]
    ) -> None:
        """
        pywebsocket's scan (same files, same resource names, same refusal
        of files whose real path leaves the directory), each file run with
        :data:`_HANDLER_BUILTINS`.
        """
        convert = dispatch._create_path_to_resource_converter(root_dir)
        rootReal = os.path.realpath(root_dir)
        for path in sorted(dispatch._enumerate_handler_file_paths(os.path.realpath(scan_dir))):
            if not allow_handlers_outside_root_dir and not os.path.realpath(path).startswith(rootReal):
                continue
            try:
                with io.open(path, encoding=handler_encoding) as handlerFile:
                    suite = _sourceHandlerFile(handlerFile.read(), path)
            except dispatch.DispatchException as e:
                self._source_warnings.append(f"{path}: {e}")
                continue
            resource = convert(path)
            if resource is not None:
                self._handler_suite_map[resource] = suite

    def addHandler(
        self,
        resource: str,
        transferData: Callable[[Any], None],
        extraHandshake: Optional[Callable[[Any], None]] = None,
    ) -> None:
        """
        Serve ``resource`` (``/echo``) with functions instead of a file:
        ``transferData`` as its ``web_socket_transfer_data``,
        ``extraHandshake`` (default: accept) as its
        ``web_socket_do_extra_handshake``.  The test server's hook for
        WebSocket handlers written in a test.  Any thread (a handshake
        looks the resource up once).
        """
        self._handler_suite_map[resource] = dispatch._HandlerSuite(
            extraHandshake or _acceptHandshake, transferData, dispatch._default_passive_closing_handshake_handler
        )

    def resources(self) -> Sequence[str]:
        """The resource paths served (``/echo``...), sorted."""
        return sorted(self._handler_suite_map)

    def do_extra_handshake(self, request: Any) -> None:
        """Give ``request`` its ``server``, then run the handler's extra handshake.  Handler thread."""
        resource = request.ws_resource.split("?", 1)[0].split("#", 1)[0]
        request.server = ServerView(Stash(self._stashStore, resource), self._config)
        super().do_extra_handshake(request)


def _acceptHandshake(request: Any) -> None:
    """The extra handshake of a handler given as a function alone: accept."""


def _sourceHandlerFile(source: str, path: str) -> Any:
    """
    Run one handler file and pick its functions, as pywebsocket's
    ``_source_handler_file`` does (same errors), with our builtins.
    """
    # No __name__, as in pywebsocket's exec of the file.
    namespace: Dict[str, Any] = {"__builtins__": _HANDLER_BUILTINS}
    try:
        exec(compile(source, path, "exec"), namespace)
    except Exception:
        raise dispatch.DispatchException("Error in sourcing handler:" + traceback.format_exc()) from None
    try:
        passive = dispatch._extract_handler(namespace, dispatch._PASSIVE_CLOSING_HANDSHAKE_HANDLER_NAME)
    except Exception:
        passive = dispatch._default_passive_closing_handshake_handler
    return dispatch._HandlerSuite(
        dispatch._extract_handler(namespace, dispatch._DO_EXTRA_HANDSHAKE_HANDLER_NAME),
        dispatch._extract_handler(namespace, dispatch._TRANSFER_DATA_HANDLER_NAME),
        passive,
    )
