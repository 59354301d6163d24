"""
The leaves of the tree that run Python: a wptserve-style function
``func(request, response)`` in the thread pool, and ``*.py`` handler files
built on it.

The flow follows :class:`twisted.web.wsgi.WSGIResource`: ``render`` runs in
the reactor thread, builds the request and response objects, starts the
work with ``threadpool.callInThread`` and returns ``NOT_DONE_YET``; the
worker thread runs the handler and writes the response through a
:class:`~twisted_pyhandlers._connection.ConnectionOutput`, which is the only
thing that touches the transport.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Sequence
from urllib.parse import quote

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.server import Request as TwistedRequest

from twisted_pyhandlers._connection import ConnectionOutput
from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._errors import HTTPException, errorCause, isHTTPException
from twisted_pyhandlers._http1 import ResponseWriter
from twisted_pyhandlers._pipes import wrapPipeline
from twisted_pyhandlers._request import Request
from twisted_pyhandlers._response import Response
from twisted_pyhandlers._script import HandlerFileRun

HandlerFunction = Callable[[Request, Response], Any]

#: Called once a response is written and finished (or None).
AfterWrite = Optional[Callable[[], None]]


def applyReturnValue(response: Response, value: Any) -> None:
    """
    Fold what ``main`` returned into ``response``, as wptserve does:
    ``(status, headers, content)``, ``(headers, content)``, or bare content.
    Headers are appended to those the handler already set.
    """
    if isinstance(value, tuple):
        if len(value) == 3:
            status, headers, content = value
            response.status = status
        elif len(value) == 2:
            headers, content = value
        else:
            raise HTTPException(500, f"main returned a tuple of {len(value)} items")
        response.headers.update(headers)
    else:
        content = value
    response.content = content


def urlBaseOf(request: TwistedRequest, depth: int) -> str:
    """
    The URL prefix the handler tree is mounted under ("/" at the root of a
    site, "/wpt/" under ``putChild(b"wpt", ...)``): the path consumed
    before the ``depth`` segments that lead from the tree's root to here.
    """
    prepath = request.prepath or []
    mount = prepath[: len(prepath) - depth]
    if not mount:
        return "/"
    return "/" + "/".join(quote(segment, safe="") for segment in mount) + "/"


class FunctionResource(Resource):
    """
    A leaf that answers by running ``func(request, response)`` in the
    thread pool, with wptserve's semantics for return values, errors and
    pipes.

    :ivar segments: the URL path segments from the tree's root to this
        leaf; they give ``request.url_base`` when the tree is mounted under
        a prefix.
    :ivar filePath: the file the function serves (its ``.sub.`` and pipes
        are decided from it), or "" for none.
    """

    isLeaf = True
    _log = Logger()

    def __init__(
        self,
        context: HandlerContext,
        func: HandlerFunction,
        segments: Sequence[bytes],
        filePath: str = "",
    ) -> None:
        super().__init__()
        self._context = context
        self._func = func
        self.segments = tuple(segments)
        self.filePath = filePath

    def render(self, request: TwistedRequest) -> Any:
        """
        Start the handler in the thread pool.  Reactor thread.
        """
        output = ConnectionOutput(self._context.reactor, request)
        handlerRequest = Request(request, self._context, urlBaseOf(request, len(self.segments)))
        response = Response(handlerRequest, lambda r: ResponseWriter(output, r))
        self._context.threadpool.callInThread(self._respond, handlerRequest, response, output)
        return NOT_DONE_YET

    def _respond(self, request: Request, response: Response, output: ConnectionOutput) -> None:
        """
        Run the handler, then write its response.  Worker thread.
        """
        self._run(self._func, request, response, output, None)

    def _run(
        self,
        func: HandlerFunction,
        request: Request,
        response: Response,
        output: ConnectionOutput,
        afterWrite: AfterWrite,
    ) -> None:
        """
        Run ``func`` as the handler, then write its response and call
        ``afterWrite`` (if any).  Worker thread.
        """
        try:
            value = func(request, response)
        except BaseException as error:
            self._recordError(response, error)
        else:
            if inspect.iscoroutine(value) or isinstance(value, Deferred):
                self._context.reactor.callFromThread(
                    self._awaitOnReactor, value, request, response, output, afterWrite
                )
                return
            try:
                self._completed(value, request, response)
            except BaseException as error:
                self._recordError(response, error)
        self._write(request, response, output, afterWrite)

    def _awaitOnReactor(
        self, value: Any, request: Request, response: Response, output: ConnectionOutput, afterWrite: AfterWrite
    ) -> None:
        """
        ``async def main`` and Deferred-returning handlers: wait for the
        result on the reactor, then write the response: right here when its
        body is bytes or text (nothing left that could block), else from a
        worker thread (a generator, a file or a trickle pipe may block).
        Reactor thread.
        """
        result: Deferred[Any] = ensureDeferred(value) if inspect.iscoroutine(value) else value
        output.cancelOnDisconnect(result)

        def succeeded(returned: Any) -> None:
            try:
                self._completed(returned, request, response)
            except BaseException as error:
                self._recordError(response, error)

        def failed(failure: Failure) -> None:
            self._recordError(response, failure.value or RuntimeError("handler failed"))

        def write(_: object) -> Optional[Deferred[None]]:
            if response.writer.content_written or isinstance(response.content, (bytes, str)):
                self._write(request, response, output, afterWrite)
                return None
            return deferToThreadPool(
                self._context.reactor,
                self._context.threadpool,  # type: ignore[arg-type]
                self._write,
                request,
                response,
                output,
                afterWrite,
            )

        result.addCallbacks(succeeded, failed)
        result.addCallback(write)
        result.addErrback(
            lambda failure: self._log.failure("Writing an asynchronous handler's response failed", failure)
        )

    def _completed(self, value: Any, request: Request, response: Response) -> None:
        """
        ``main`` returned ``value``: apply it and the pipes.  Worker thread
        (or reactor thread for asynchronous handlers).
        """
        if response.writer.content_written:
            return
        if value is not None:
            applyReturnValue(response, value)
        wrapPipeline(self.filePath, request, response)

    def _recordError(self, response: Response, error: BaseException) -> None:
        """
        Turn a handler's exception into wptserve's JSON error response (and
        log it).  Any thread.
        """
        if isinstance(error, (KeyboardInterrupt, SystemExit)) and not isinstance(error, Exception):
            error = RuntimeError(f"handler raised {type(error).__name__}")
        if isHTTPException(error):
            code: int = error.code  # type: ignore[attr-defined]
            cause = errorCause(error) if 500 <= code < 600 else error
        else:
            code, cause = 500, error
        if response.writer.content_written:
            # Too late for an error response: log it, close the connection.
            self._log.failure(
                "Handler for {url} failed after writing", Failure(error), url=response.request.url
            )
            response.close_connection = True
            return
        response.set_error(code, cause)

    def _write(
        self, request: Request, response: Response, output: ConnectionOutput, afterWrite: AfterWrite = None
    ) -> None:
        """
        Write the response unless the handler already wrote through the
        writer, then finish it — always, whatever fails on the way, so no
        client is left waiting — and call ``afterWrite``.  Worker thread.
        """
        try:
            if not response.writer.content_written:
                response.write()
        except BaseException as error:
            if response.writer.content_written:
                self._log.failure("Writing the response to {url} failed", Failure(error), url=request.url)
                response.close_connection = True
            else:
                self._recordError(response, error)
                try:
                    response.write()
                except BaseException as secondError:
                    self._log.failure("Writing the error for {url} failed", Failure(secondError), url=request.url)
                    response.close_connection = True
        finally:
            writer = response.writer
            persistent = (
                writer.status_written and writer.saw_header(b"content-length") and not response.close_connection
            )
            output.finish(response.status[0], persistent)
            if afterWrite is not None:
                afterWrite()


class PythonFileResource(FunctionResource):
    """
    A ``*.py`` handler file: compiled once (see
    :class:`~twisted_pyhandlers._script.CodeCache`), executed per request
    in a fresh namespace holding ``__file__``, then its ``main`` called
    (see :class:`~twisted_pyhandlers._script.HandlerFileRun`).
    """

    def __init__(self, context: HandlerContext, path: str, segments: Sequence[bytes]) -> None:
        super().__init__(context, _notCalled, segments, filePath=path)

    def _respond(self, request: Request, response: Response, output: ConnectionOutput) -> None:
        """
        Run the file in a namespace of this request's own, released once
        the response is written.  Worker thread.
        """
        run = HandlerFileRun(self._context.codeCache, self.filePath)
        self._run(run, request, response, output, run.release)


def _notCalled(request: Request, response: Response) -> None:
    """The function of a handler file's leaf, which runs its file instead."""
    raise AssertionError("a handler file's leaf runs the file, not its function")
