"""
The resource tree over a document root.

:class:`HandlerDirectory` is what users mount: ``getChild`` maps each URL
path segment to a subdirectory, to a ``*.py`` handler leaf, or to a static
file, and refuses every segment that could leave the root.  It fits any
``twisted.web.server.Site``, at the root or under ``putChild``.
"""

from __future__ import annotations

import os
import stat
from typing import Any, Dict, Optional, Sequence, Union
from weakref import WeakKeyDictionary

from twisted.internet.interfaces import IReactorCore
from twisted.python.filepath import FilePath
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request as TwistedRequest

from twisted_pyhandlers._addresses import portOf
from twisted_pyhandlers._context import HandlerContext, HandlerReactor
from twisted_pyhandlers._listing import listing
from twisted_pyhandlers._output import ReactorMailbox
from twisted_pyhandlers._request import hostError
from twisted_pyhandlers._run import PythonFileResource, ServerAnswer, notFound, redirectToSlash
from twisted_pyhandlers._script import CodeCache, installWptserveCompat, makeImportable
from twisted_pyhandlers._stashurl import stashStoreFromURL
from twisted_pyhandlers._static import fileResource
from twisted_pyhandlers._threads import CallRunner, HandlerThreadPool, tiedToReactor
from twisted_pyhandlers.config import ServerConfig
from twisted_pyhandlers.stash import StashStore

__all__ = ["DEFAULT_HANDLER_TIMEOUT", "DEFAULT_THREADS", "HandlerDirectory", "sharedThreadPool"]

#: Seconds a handler may run before it is given up on (504, its thread
#: replaced): twice wpt's "long" test timeout (60 s).  No test can wait for
#: a response longer than its own timeout, and the margin covers a harness
#: timeout multiplier of 2; a handler still running after that is a runaway.
DEFAULT_HANDLER_TIMEOUT = 120.0

#: Threads that run handlers, by default.  Many real handlers sleep (to
#: delay a response, to trickle a body); a thread that sleeps costs a little
#: memory and no CPU, so the pool is large enough that 200 concurrent
#: sleeping requests do not queue behind each other.
DEFAULT_THREADS = 256

_FORBIDDEN = (b"/", b"\\", b"\x00")

#: The most children a directory remembers (see :meth:`_Directory.getChild`);
#: past it, it forgets them all and starts again.
MAX_REMEMBERED = 1024


def isSafeSegment(segment: bytes) -> bool:
    """
    Whether a decoded URL path segment may be looked up on disk: not empty,
    not ``.`` or ``..``, without separators or NUL, valid UTF-8.
    """
    if segment in (b"", b".", b".."):
        return False
    if any(character in segment for character in _FORBIDDEN):
        return False
    try:
        segment.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _Remembered:
    """
    What a :class:`_Directory` remembers of one name in it: the name's
    path, and the resource built for it as a subdirectory or a handler
    file (None until one is built; replaced when the name changes kind).
    """

    __slots__ = ("path", "resource")

    def __init__(self, path: FilePath[str]) -> None:
        self.path = path
        self.resource: Optional[IResource] = None


class _Directory(Resource):
    """
    One directory of the tree.  Reactor thread throughout: it only looks
    at the file system metadata and picks a child.

    :ivar path: the directory (inside the root).
    :ivar segments: URL segments from the tree's root to here.

    A directory remembers the subdirectories and handler files it has
    answered with, by name (at most :data:`MAX_REMEMBERED`): the file system
    is still asked on every request what each name is now (one ``lstat``),
    but the path and the resource for it are built once, not per request.
    Static files are built per request: their resource reads the file's
    size and dates, which may change.
    """

    def __init__(self, context: HandlerContext, path: FilePath[str], segments: Sequence[bytes]) -> None:
        super().__init__()
        self.context = context
        self.path = path
        self.segments = tuple(segments)
        self._remembered: Dict[bytes, _Remembered] = {}

    def getChild(self, path: bytes, request: TwistedRequest) -> IResource:
        """
        Map one URL segment (already percent-decoded by twisted.web) to what
        it names.  Reactor thread.
        """
        context = self.context
        segments = self.segments + (path,)
        if path == b"":
            if not request.postpath:
                return self._index(segments)
            # An empty segment before others ("/a//b", "//b"): skipped, as
            # wptserve serves those URLs.  It names no file, so this can
            # never leave the directory.
            return _Directory(context, self.path, segments)
        remembered = self._remembered.get(path)
        if remembered is None:
            if not isSafeSegment(path):
                return ServerAnswer(context, notFound, segments)
            if len(self._remembered) >= MAX_REMEMBERED:
                self._remembered.clear()
            remembered = self._remembered[path] = _Remembered(self.path.child(path.decode("utf-8")))
        child = remembered.path
        try:
            status = _statInside(child, context.root)
        except OSError:
            return ServerAnswer(context, notFound, segments)
        mode = status.st_mode
        if stat.S_ISDIR(mode):
            resource = remembered.resource
            if not isinstance(resource, _Directory):
                resource = remembered.resource = _Directory(context, child, segments)
            return resource
        if not stat.S_ISREG(mode) or request.postpath:
            # Not a regular file, or a path below a file.
            return ServerAnswer(context, notFound, segments)
        if path.endswith(b".py"):
            resource = remembered.resource
            if not isinstance(resource, PythonFileResource):
                resource = remembered.resource = PythonFileResource(context, child.path, segments)
            resource.noteStatus(status)
            return resource
        # A fresh path: FilePath caches what it stats, and the static
        # resource stats the file.
        return fileResource(FilePath(child.path), context, segments)

    def render(self, request: TwistedRequest) -> Any:
        """
        The directory's URL without the trailing slash: redirect to it.
        Reactor thread.
        """
        return ServerAnswer(self.context, redirectToSlash, self.segments).render(request)

    def _index(self, segments: Sequence[bytes]) -> IResource:
        """The first ``default*.py`` here, else the listing."""
        defaults = sorted(
            child for child in self.path.globChildren("default*.py") if child.isfile()
        )
        if defaults and _isInside(defaults[0].path, self.context.root):
            return PythonFileResource(self.context, defaults[0].path, segments)
        return ServerAnswer(self.context, listing(self.path), segments)


def _statInside(path: FilePath[str], root: FilePath[str]) -> os.stat_result:
    """
    The status (``os.stat``) of ``path`` (a child of a directory already
    known to be inside ``root``), following symlinks only as far as they
    stay inside.

    One ``lstat`` answers for the common case; a symlink costs a
    ``realpath`` to check where it leads.

    :raises OSError: if it does not exist, or leads outside the root.
    """
    status = os.lstat(path.path)
    if stat.S_ISLNK(status.st_mode):
        if not _isInside(path.path, root):
            raise FileNotFoundError(path.path)
        status = os.stat(path.path)
    return status


def _isInside(path: str, root: FilePath[str]) -> bool:
    """
    Whether ``path``, with every symlink resolved, is ``root`` or below it.
    """
    real = os.path.realpath(path)
    return real == root.path or real.startswith(root.path + os.sep)


class HandlerDirectory(_Directory):
    """
    A twisted.web resource serving a document root the way wptserve does:
    ``*.py`` files are run as handlers, everything else is a static file.

    ``HandlerDirectory("/srv/tests")`` is all most users need, at the root of
    a ``Site`` or under ``putChild``.  Dependencies can be injected (tests,
    or several roots sharing one pool and one stash).

    :param root: the document root.
    :param reactor: the reactor; defaults to the global one.
    :param threadpool: runs handlers; defaults to a pool of
        :data:`DEFAULT_THREADS` shared by every ``HandlerDirectory`` of the
        process, started and stopped with the reactor.
    :param stash: a :class:`~twisted_pyhandlers.stash.StashStore`, or a stash
        URL (``redis://host:port/db``); defaults to the process-wide
        in-memory store, shared by every root of the process.
    :param config: what ``request.server.config`` shows; defaults to a
        config for ``localhost``.
    :param handlerTimeout: seconds a handler may run before its client is
        answered 504 and its thread replaced (see ``docs/threat-model.rst``);
        defaults to :data:`DEFAULT_HANDLER_TIMEOUT`; 0 or None for no limit.

    A request whose Host header cannot make a URL (``[::1``, ``]27.0.0.1``,
    ``h:abc``) is answered 400 here, before any handler or file sees it.
    """

    def __init__(
        self,
        root: Union[str, os.PathLike[str]],
        *,
        reactor: Optional[HandlerReactor] = None,
        threadpool: Optional[CallRunner] = None,
        stash: Union[StashStore, str, None] = None,
        config: Optional[ServerConfig] = None,
        handlerTimeout: Optional[float] = DEFAULT_HANDLER_TIMEOUT,
    ) -> None:
        if handlerTimeout is not None and handlerTimeout < 0:
            raise ValueError("the handler timeout cannot be negative")
        rootPath = FilePath(os.path.realpath(os.fspath(root)))
        if not rootPath.isdir():
            raise ValueError(f"document root {rootPath.path!r} is not a directory")
        if reactor is None:
            # Only the one-argument form used inside an existing Site picks
            # the global reactor; everything else passes its own.
            from twisted.internet import reactor as globalReactor

            reactor = globalReactor  # type: ignore[assignment]
        assert reactor is not None
        if threadpool is None:
            threadpool = sharedThreadPool(reactor)
        stashStore = stash if stash is not None and not isinstance(stash, str) else stashStoreFromURL(stash)
        if config is None:
            config = ServerConfig(docRoot=rootPath.path)
        makeImportable(rootPath.path)
        installWptserveCompat()
        context = HandlerContext(
            root=rootPath,
            reactor=reactor,
            threadpool=threadpool,
            stashStore=stashStore,
            config=config,
            codeCache=CodeCache(),
            mailbox=ReactorMailbox(reactor),
            handlerTimeout=handlerTimeout or None,
        )
        super().__init__(context, rootPath, ())
        self._portKnown = False

    def getChildWithDefault(self, path: bytes, request: TwistedRequest) -> IResource:
        """
        Every request under this root passes here first (reactor thread):
        when the tree is composed into a Site of the user's, nothing told the
        config which port it serves, so the first request tells it.
        """
        if not self._portKnown:
            self._notePort(request)
        if not request.uri.startswith(b"/"):
            # Not a path ("![", "*", an absolute URL meant for a proxy): no
            # URL of ours can be built from it, so the client is told so.
            return ServerAnswer(self.context, _badTarget, ())
        host = request.requestHeaders.getRawHeaders(b"host")
        if host:
            problem = hostError(host[0])
            if problem is not None:
                return ServerAnswer(self.context, _badHost(problem), ())
        return super().getChildWithDefault(path, request)

    def _notePort(self, request: TwistedRequest) -> None:
        scheme = "https" if request.isSecure() else "http"
        port = portOf(request.getHost())
        if port is not None and not self.context.config["ports"][scheme]:
            self.context.config.addListeningPort(scheme, port)
        self._portKnown = True


def _badTarget(request: Any, response: Any) -> None:
    """The server's answer to a request target that is not a path: 400."""
    response.set_error(400, "Bad request target: it must be a path starting with /")


def _badHost(problem: str) -> Any:
    """The server's answer to a request with an unusable Host header: 400."""

    def answer(request: Any, response: Any) -> None:
        response.set_error(400, f"Bad Host header: {problem}")

    return answer


#: The default thread pool of each reactor.  Weakly keyed: a reactor that
#: is garbage collected (tests make many) takes its pool with it, and a new
#: reactor at the same address never finds an old one's pool.
_sharedPools: WeakKeyDictionary[IReactorCore, HandlerThreadPool] = WeakKeyDictionary()


def sharedThreadPool(reactor: IReactorCore, size: int = DEFAULT_THREADS) -> HandlerThreadPool:
    """
    The handler thread pool shared by every :class:`HandlerDirectory` on
    ``reactor`` that was not given its own: started when the reactor runs
    and stopped when it shuts down, like ``reactor.getThreadPool()``.
    Reactor thread (or before the reactor runs).
    """
    pool = _sharedPools.get(reactor)
    if pool is None:
        pool = tiedToReactor(HandlerThreadPool(size), reactor)
        _sharedPools[reactor] = pool
    return pool
