"""
The resource at the root of a test server: records each request, lets the
test's expectations answer it, then the handler functions the test wrote,
then the document root.

:class:`TestTree` is one leaf for every URL (``isLeaf``): it renders each
request once its body is complete (on HTTP/2 too), so what it records and
matches is the whole request.  It decides, in this order:

1. an expectation that takes the request and has an answer
   (:meth:`~twisted_pyhandlers._expectations.Expectation.respond`) answers;
2. a handler function given for the request's path answers (the path as
   sent or percent-decoded, the query aside);
3. the :class:`~twisted_pyhandlers.HandlerDirectory` answers as it always
   does (handler files, static files, 404).

Functions run through the same :class:`~twisted_pyhandlers._run.HandlerRun`
as a handler file's ``main``: the thread pool, every return form, the
writer, the stash, pipes from the query, wptserve's 500 with its traceback.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from types import FunctionType, MethodType
from typing import Any, Callable, Dict, Mapping, Optional
from urllib.parse import unquote

from twisted.internet._producer_helpers import _PullToPush
from twisted.internet.task import Cooperator
from twisted.web.resource import IResource, Resource, getChildForRequest
from twisted.web.server import NOT_DONE_YET
from twisted.web.server import Request as TwistedRequest
from zope.interface import implementer

from twisted_pyhandlers._childserver import RecordedRequest, recordedHeaders
from twisted_pyhandlers._expectations import Expectations, RequestLog
from twisted_pyhandlers._interfaces import IStreamingResource, IStreamRun
from twisted_pyhandlers._pipes import withQueryPipe
from twisted_pyhandlers._request import hostError
from twisted_pyhandlers._run import HandlerFunction, HandlerRun, notFound, queryOf
from twisted_pyhandlers.resource import HandlerDirectory

__all__ = ["TestTree", "emptyRoot"]


_emptyRoots: list[str] = []


def emptyRoot() -> str:
    """
    The document root of a server given none: one empty directory per
    process, removed when the process exits.  Any thread.
    """
    with _emptyLock:
        if not _emptyRoots:
            directory = tempfile.mkdtemp(prefix="pyhandlers-noroot-")
            atexit.register(shutil.rmtree, directory, True)
            _emptyRoots.append(directory)
        return _emptyRoots[0]


_emptyLock = threading.Lock()


def recordOf(request: TwistedRequest) -> RecordedRequest:
    """What the test's request log keeps of ``request`` (its body complete).  Reactor thread."""
    body = b""
    content = request.content
    if content is not None:
        content.seek(0)
        body = content.read()
        content.seek(0)
    path, _, query = request.uri.partition(b"?")
    return RecordedRequest(
        method=request.method.decode("iso-8859-1"),
        path=path.decode("iso-8859-1"),
        query=query.decode("iso-8859-1"),
        headers=recordedHeaders(request),
        body=body,
    )


def handlerName(main: Callable[..., Any]) -> str:
    """What the log calls a handler function: its qualified name."""
    if isinstance(main, (FunctionType, MethodType)):
        return main.__qualname__
    return repr(main)


class _PullOnReactor(_PullToPush):  # type: ignore[misc]
    """
    Twisted's adapter from a pull producer (``static.File``'s) to a push
    one, driven by a cooperator on the server's own reactor: Twisted's
    channel uses the global cooperator, whose reactor does not turn while a
    synchronous test runs.  Subclasses ``_PullToPush`` of
    ``twisted.internet._producer_helpers`` as of Twisted 26.10
    (``_pull``, ``_coopTask``).  Reactor thread.
    """

    def __init__(self, producer: Any, consumer: Any, cooperator: Cooperator) -> None:
        super().__init__(producer, consumer)
        self._cooperator = cooperator

    def startStreaming(self) -> None:
        self._coopTask = self._cooperator.cooperate(self._pull())


def drivePullProducers(request: TwistedRequest, cooperator: Cooperator) -> None:
    """
    Make ``request`` drive a pull producer registered with it through
    ``cooperator`` (see :class:`_PullOnReactor`).  Reactor thread.
    """
    register, unregister = request.registerProducer, request.unregisterProducer
    pushing: list[_PullOnReactor] = []

    def registerProducer(producer: Any, streaming: bool) -> None:
        if streaming:
            register(producer, True)
            return
        push = _PullOnReactor(producer, request, cooperator)
        pushing.append(push)
        register(push, True)
        push.startStreaming()

    def unregisterProducer() -> None:
        unregister()
        while pushing:
            pushing.pop().stopStreaming()

    request.registerProducer = registerProducer  # type: ignore[method-assign]
    request.unregisterProducer = unregisterProducer  # type: ignore[method-assign]


def _badHost(problem: str) -> HandlerFunction:
    def answer(request: Any, response: Any) -> None:
        response.set_error(400, f"Bad Host header: {problem}")

    return answer


@implementer(IStreamingResource)
class TestTree(Resource):
    """
    The root of a test server (see the module docstring).

    :param directory: the document root's tree (an empty directory when
        the test gave none).
    :param handlers: path (``"/api/echo"``) to handler function.
    :param expectations: the test's expectations.
    :param requests: the log every request is appended to.
    :param cooperator: drives static files' pull producers on the server's
        reactor; None where something else drives them (in memory).
    :param serveRoot: False when the test gave no root: ``directory`` is
        then an empty stand-in, and what no function or expectation answers
        is wptserve's 404 (not the stand-in's empty listing).

    :ivar context: the directory's context, which the runs of functions
        use too (the same thread pool, stash and config).
    """

    isLeaf = True

    def __init__(
        self,
        directory: HandlerDirectory,
        handlers: Mapping[str, HandlerFunction],
        expectations: Expectations,
        requests: RequestLog,
        cooperator: Optional[Cooperator] = None,
        serveRoot: bool = True,
    ) -> None:
        super().__init__()
        self.directory = directory
        self._serveRoot = serveRoot
        self.context = directory.context
        self.expectations = expectations
        self.requests = requests
        self._cooperator = cooperator
        self._lock = threading.Lock()
        self._handlers: Dict[str, HandlerFunction] = {}
        for path, main in handlers.items():
            self.addHandler(path, main)

    def addHandler(self, path: str, main: HandlerFunction) -> None:
        """
        Serve ``main`` at ``path`` from the next request on.  Any thread.

        :raises ValueError: for a path that is not absolute or holds a query.
        """
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"a handler's path starts with /: {path!r}")
        if "?" in path:
            raise ValueError(f"a handler answers a path whatever its query: {path!r} holds one")
        if not callable(main):
            raise ValueError(f"the handler for {path} is not callable: {main!r}")
        with self._lock:
            self._handlers[unquote(path)] = main

    def removeHandler(self, path: str) -> None:
        """Stop serving a function at ``path``.  Any thread."""
        with self._lock:
            self._handlers.pop(unquote(path), None)

    def handlerFor(self, path: bytes) -> Optional[HandlerFunction]:
        """The function serving ``path`` (as sent), if any.  Reactor thread."""
        with self._lock:
            return self._handlers.get(unquote(path.decode("iso-8859-1")))

    def render(self, request: TwistedRequest) -> Any:
        """Record the request and answer it (see the module docstring).  Reactor thread."""
        record = recordOf(request)
        self.requests.append(record)
        if self._cooperator is not None:
            drivePullProducers(request, self._cooperator)
        main = self.expectations.take(record)
        if main is None:
            main = self.handlerFor(request.path)
        if main is None and self._serveRoot:
            # The tree checks the target and the Host header itself.
            return self._leafFor(request).render(request)
        host = request.requestHeaders.getRawHeaders(b"host")
        problem = hostError(host[0]) if host else None
        if problem is not None or main is None:
            answer = _badHost(problem) if problem is not None else notFound
            HandlerRun(self.context, request, answer, "/").answerHere()
            return NOT_DONE_YET
        HandlerRun(
            self.context, request, main, "/", withQueryPipe("", queryOf(request)), name=handlerName(main)
        ).start()
        return NOT_DONE_YET

    def _leafFor(self, request: TwistedRequest) -> IResource:
        return getChildForRequest(self.directory, request)

    def startStream(self, request: TwistedRequest, streamID: int, frame: object) -> Optional[IStreamRun]:
        """
        An HTTP/2 stream's headers arrived: a handler file under the root
        gets its ``handle_headers``/``handle_data`` steps as usual; None
        (the request waits for its body, then renders) when a function
        serves the path, an expectation may answer, or no handler file
        does.  Reactor thread.
        """
        if not self._serveRoot or self.handlerFor(request.path) is not None or self.expectations.mayAnswer():
            return None
        # The stream keeps this tree as the resource it looked up, and its
        # complete request renders here without a second walk from the
        # site: so the walk to the file is undone once the file's run has
        # started, and render walks it again from this tree.
        prepath, postpath = list(request.prepath or ()), list(request.postpath or ())
        try:
            leaf = self._leafFor(request)
            if IStreamingResource.providedBy(leaf):
                return leaf.startStream(request, streamID, frame)  # type: ignore[no-any-return]
            return None
        finally:
            request.prepath, request.postpath = prepath, postpath
