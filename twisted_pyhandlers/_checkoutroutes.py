"""
The routes ``wpt serve`` adds to a web-platform-tests checkout, beyond its
files (``tools/serve/serve.py``: ``RoutesBuilder``, ``rewrites``,
``get_route_builder``):

- ``/tools/*``, ``/{any}/tools/*``, ``/_certs/*`` and ``/results/`` answer
  404 to every method, whatever is on disk: the checkout's own tooling,
  certificates and results are never served or run;
- ``GET /resources/WebIDLParser.js`` is ``/resources/webidl2/lib/webidl2.js``;
- the config's ``aliases``: a URL prefix ending in ``/`` served from another
  directory (handlers, static files and everything else of the tree, never
  leaving that directory), or one file's URL served from a directory
  holding a file of that name;
- the fixed ``/.well-known/...`` paths that wpt serve runs as Python
  handlers although their files have no ``.py`` (a missing file is a 404).

:class:`CheckoutRoutes` holds them; a
:class:`~twisted_pyhandlers.HandlerDirectory` given one (``routes=``)
asks it first for every request, so they compose under ``putChild`` like
the rest of the tree (the paths are below wherever the tree is mounted).
Reactor thread throughout: it only looks at the URL and the file system.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from dataclasses import dataclass
from typing import Any, Iterable, List, Mapping, Optional, Protocol, Sequence, Tuple

from twisted.python.filepath import FilePath
from twisted.web.resource import IResource
from twisted.web.server import Request as TwistedRequest

from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._request import Request
from twisted_pyhandlers._response import Response
from twisted_pyhandlers._run import PythonFileResource, ServerAnswer, notFound
from twisted_pyhandlers._static import fileResource

#: First path segments wpt serve never serves (``/_certs/*``, ``/tools/*``).
FORBIDDEN_FIRST = frozenset({b"_certs", b"tools"})

#: wpt serve's rewrites: GET of the first path is served as the second.
REWRITES: Mapping[Tuple[bytes, ...], Tuple[bytes, ...]] = {
    (b"resources", b"WebIDLParser.js"): (b"resources", b"webidl2", b"lib", b"webidl2.js"),
}

#: Today's ``/.well-known/`` paths that wpt serve runs as Python handlers:
#: (the methods, ``None`` for any, the path's segments, whether any path
#: below it is one too).
WELL_KNOWN_HANDLERS: Tuple[Tuple[Optional[frozenset[bytes]], Tuple[bytes, ...], bool], ...] = tuple(
    (methods, tuple(path.encode("ascii").split(b"/")), below)
    for methods, path, below in (
        (None, "attribution-reporting/report-event-attribution", False),
        (None, "attribution-reporting/debug/report-event-attribution", False),
        (None, "attribution-reporting/report-aggregate-attribution", False),
        (None, "attribution-reporting/debug/report-aggregate-attribution", False),
        (None, "attribution-reporting/debug/report-aggregate-debug", False),
        (None, "attribution-reporting/debug/verbose", False),
        (frozenset({b"GET", b"HEAD"}), "interest-group/permissions/", False),
        (None, "interest-group/real-time-report", False),
        (None, "private-aggregation", True),
        (None, "web-identity", False),
    )
)


def emptyNotFound(request: Request, response: Response) -> None:
    """
    wpt serve's bare 404 (its ``ErrorHandler(404)`` on a forbidden route, a
    missing ``/.well-known/`` handler): a JSON error with an empty message.
    """
    response.set_error(404, "")


class RoutedTree(Protocol):
    """What the routes need of the tree they are consulted by."""

    @property
    def context(self) -> HandlerContext:
        """What every request of the tree shares."""

    def subdirectory(self, context: HandlerContext, path: FilePath[str]) -> IResource:
        """The tree's resource for the directory ``path`` (inside ``context.root``), at the top of a subtree."""


@dataclass(frozen=True)
class Alias:
    """
    One entry of the config's ``aliases``.

    :ivar prefix: the URL path's segments (``/a/b/`` is ``(b"a", b"b")``).
    :ivar directory: the directory served there (resolved, symlinks followed).
    :ivar isFile: whether the URL names one file (``url-path`` without a
        trailing slash): then ``directory`` holds a file of the URL's last
        segment, as wpt serve's ``add_file_mount_point`` reads it, or is
        that file.
    """

    prefix: Tuple[bytes, ...]
    directory: str
    isFile: bool = False


def parseAliases(entries: Iterable[Any], base: Optional[str] = None) -> Tuple[List[Alias], List[str]]:
    """
    The config's ``aliases`` (``[{"url-path": "/x/", "local-dir": DIR}]``)
    as :class:`Alias` objects, and a warning line for each entry skipped
    (wpt serve logs and skips a ``url-path`` that does not start with ``/``
    or an empty ``local-dir``).  A relative ``local-dir`` is taken from
    ``base`` (the current directory by default, as wpt serve's).  Start-up.
    """
    aliases: List[Alias] = []
    warnings: List[str] = []
    for entry in entries:
        url = entry.get("url-path") if isinstance(entry, Mapping) else None
        directory = entry.get("local-dir") if isinstance(entry, Mapping) else None
        if not isinstance(url, str) or not url.startswith("/") or not isinstance(directory, str) or not directory:
            warnings.append(f"alias {entry!r} skipped: \"url-path\" must start with '/' and \"local-dir\" name a directory")
            continue
        resolved = os.path.realpath(os.path.join(base or os.getcwd(), os.path.expanduser(directory)))
        segments = tuple(part.encode("utf-8") for part in url.strip("/").split("/") if part)
        isFile = not url.endswith("/")
        if isFile and not segments:
            warnings.append(f"alias {entry!r} skipped: no file name in \"url-path\"")
            continue
        if not os.path.exists(resolved):
            warnings.append(f"alias {url}: {directory} ({resolved}) does not exist; its URLs answer 404")
        aliases.append(Alias(segments, resolved, isFile))
    return aliases, warnings


class CheckoutRoutes:
    """
    wpt serve's routes beyond the files of the tree (see the module
    docstring), asked first by the tree for every request.

    :param aliases: the config's ``aliases`` as in its JSON
        (``[{"url-path": "/x/", "local-dir": DIR}]``); those given later
        win where two prefixes overlap, as wpt serve's mount points.
    :param base: the directory a relative ``local-dir`` is taken from (the
        current directory by default, as in wpt serve).

    :ivar warnings: one line for each alias skipped or naming nothing.
    """

    def __init__(self, aliases: Iterable[Any] = (), base: Optional[str] = None) -> None:
        parsed, self.warnings = parseAliases(aliases, base)
        # Later entries are asked first, as wpt serve's later mount points.
        self.aliases: List[Alias] = list(reversed(parsed))
        # By directory: (the tree's context, the alias's) and (the alias's context, its subtree).
        self._contexts: dict[str, Tuple[HandlerContext, HandlerContext]] = {}
        self._subtrees: dict[str, Tuple[HandlerContext, IResource]] = {}

    def childFor(self, tree: RoutedTree, path: bytes, request: TwistedRequest) -> Optional[IResource]:
        """
        The resource for a request whose first path segment below the tree
        is ``path`` (``request.postpath`` holds the rest), when one of
        these routes takes it, else None (the tree maps it as usual).  A
        route that takes more than one segment moves them from
        ``request.postpath`` to ``request.prepath``.  Reactor thread.
        """
        rest: List[bytes] = request.postpath if request.postpath is not None else []
        context = tree.context
        if path in FORBIDDEN_FIRST and rest:
            return _taking(request, len(rest), ServerAnswer(context, emptyNotFound, [path, *rest]))
        if path == b"results" and rest == [b""]:
            return _taking(request, 1, ServerAnswer(context, emptyNotFound, [path, b""]))
        if len(rest) >= 2 and rest[0] == b"tools" and path:
            return _taking(request, len(rest), ServerAnswer(context, emptyNotFound, [path, *rest]))
        segments = (path, *rest)
        if request.method == b"GET":
            target = REWRITES.get(segments)
            if target is not None:
                rest[:] = list(target[1:])
                return None
        for alias in self.aliases:
            child = self._aliasChild(tree, alias, segments, request)
            if child is not None:
                return child
        if path == b".well-known":
            return self._wellKnown(context, segments, request)
        return None

    def _aliasChild(
        self, tree: RoutedTree, alias: Alias, segments: Tuple[bytes, ...], request: TwistedRequest
    ) -> Optional[IResource]:
        prefix = alias.prefix
        if alias.isFile:
            if segments != prefix or request.method not in (b"GET", b"HEAD"):
                return None
            if os.path.isdir(alias.directory):
                context = self._contextFor(tree, alias.directory)
                target = FilePath(alias.directory).child(prefix[-1].decode("utf-8"))
            else:
                context = self._contextFor(tree, os.path.dirname(alias.directory))
                target = FilePath(alias.directory)
            return _taking(request, len(segments) - 1, _fileLeaf(context, target, segments))
        if len(segments) <= len(prefix) or segments[: len(prefix)] != prefix:
            return None
        context = self._contextFor(tree, alias.directory)
        subtree = self._subtrees.get(alias.directory)
        if subtree is None or subtree[0] is not context:
            subtree = self._subtrees[alias.directory] = (context, tree.subdirectory(context, context.root))
        # The prefix's segments are consumed here; the subtree maps the rest
        # (its url_base is the alias's URL, as in wpt serve).
        return _taking(request, len(prefix) - 1, subtree[1])

    def _contextFor(self, tree: RoutedTree, directory: str) -> HandlerContext:
        """The tree's context with ``directory`` as its root (remembered per directory)."""
        base = tree.context
        remembered = self._contexts.get(directory)
        if remembered is None or remembered[0] is not base:
            remembered = self._contexts[directory] = (base, dataclasses.replace(base, root=FilePath(directory)))
        return remembered[1]

    def _wellKnown(self, context: HandlerContext, segments: Tuple[bytes, ...], request: TwistedRequest) -> Optional[IResource]:
        below = segments[1:]
        for methods, route, anyBelow in WELL_KNOWN_HANDLERS:
            if methods is not None and request.method not in methods:
                continue
            if route[-1] == b"":
                matched = below == route
            elif anyBelow:
                matched = len(below) > len(route) and below[: len(route)] == route
            else:
                matched = below == route
            if not matched:
                continue
            return _taking(request, len(segments) - 1, _handlerLeaf(context, segments))
        return None


def _taking(request: TwistedRequest, count: int, resource: IResource) -> IResource:
    """Move ``count`` segments from ``request.postpath`` to its prepath, and give ``resource``."""
    prepath, postpath = request.prepath, request.postpath
    assert prepath is not None and postpath is not None
    for _ in range(count):
        prepath.append(postpath.pop(0))
    return resource


def _fileLeaf(context: HandlerContext, path: FilePath[str], segments: Sequence[bytes]) -> IResource:
    """A file inside ``context.root`` as the tree serves one (``.py`` run, others static), or a 404."""
    if not _regularInside(path.path, context.root.path):
        return ServerAnswer(context, notFound, segments)
    if path.basename().endswith(".py"):
        return PythonFileResource(context, path.path, segments)
    return fileResource(path, context, segments)


def _handlerLeaf(context: HandlerContext, segments: Sequence[bytes]) -> IResource:
    """
    A ``/.well-known/`` route: the file the URL names (or, for a directory,
    its first ``default*.py``) run as a Python handler; wpt serve's 404 when
    there is none.
    """
    names = [segment.decode("utf-8", "replace") for segment in segments if segment]
    if any(name in (".", "..") or "/" in name or "\\" in name or "\x00" in name for name in names):
        return ServerAnswer(context, emptyNotFound, segments)
    path = os.path.join(context.root.path, *names)
    if os.path.isdir(path):
        defaults = sorted(FilePath(path).globChildren("default*.py"))
        path = defaults[0].path if defaults else path
    if not _regularInside(path, context.root.path):
        return ServerAnswer(context, emptyNotFound, segments)
    return PythonFileResource(context, path, segments)


def _regularInside(path: str, root: str) -> bool:
    """Whether ``path``, symlinks followed, is a regular file below ``root``."""
    real = os.path.realpath(path)
    if not real.startswith(root.rstrip(os.sep) + os.sep):
        return False
    try:
        return stat.S_ISREG(os.stat(real).st_mode)
    except OSError:
        return False
