"""
One request's run of a handler, from start to finish.

This is the one object per request, on the model of
:class:`twisted.web.wsgi._WSGIResponse`: :class:`HandlerRun` holds that
request's state (the handler-facing request and response, the byte pipe to
the connection, the pipes to apply) and takes it through every step:

1. made on the reactor thread by a leaf's ``render``, which then calls
   :meth:`HandlerRun.start` (or :meth:`HandlerRun.answerHere` for answers
   that need no thread) and returns ``NOT_DONE_YET``;
2. the handler runs in the thread pool (``async def main`` and a Deferred
   are awaited on the reactor);
3. its return value and the pipes are folded into the response, or its
   exception is turned into wptserve's error response;
4. the response is written through ``response.writer``, unless the handler
   wrote it itself;
5. :meth:`HandlerRun._finish` decides, in one place, whether the connection
   is kept for another request, and ends the response.

Every path through these steps ends in step 5 exactly once, whatever fails,
so no client is left waiting.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional
from urllib.parse import quote

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request as TwistedRequest

from twisted_pyhandlers._connection import ConnectionPipe
from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._errors import errorCause, isHTTPException
from twisted_pyhandlers._http1 import ResponseWriter
from twisted_pyhandlers._http2 import H2ResponseWriter
from twisted_pyhandlers._pipes import Pipeline
from twisted_pyhandlers._request import Request
from twisted_pyhandlers._response import Response, applyReturnValue
from twisted_pyhandlers._threads import SerialCalls

#: What a leaf runs: wptserve's ``main(request, response)`` shape.
HandlerFunction = Callable[[Request, Response], Any]


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


def writerClassFor(request: TwistedRequest) -> type:
    """
    The wire format a response to ``request`` is written in: HTTP/2 frames
    on an HTTP/2 stream, HTTP/1.1 bytes otherwise.  The one place that
    decides it.
    """
    if request.clientproto == b"HTTP/2":
        return H2ResponseWriter
    return ResponseWriter


class HandlerRun:
    """
    One request's handler run.

    :param context: what the tree shares (reactor, thread pool, stash...).
    :param twistedRequest: the request, its body fully received.
    :param handler: called as ``handler(request, response)``.
    :param urlBase: the mount prefix, for ``request.url_base``.
    :param pipes: the pipe string decided for this response on the reactor
        (``.sub.`` of the file name, then the query's ``pipe``), or "".
    :param release: called once the response is finished (the handler
        file's namespace is let go there), or None.

    :ivar request: the handler-facing request.
    :ivar response: the handler-facing response.
    """

    _log = Logger()

    def __init__(
        self,
        context: HandlerContext,
        twistedRequest: TwistedRequest,
        handler: HandlerFunction,
        urlBase: str,
        pipes: str = "",
        release: Optional[Callable[[], None]] = None,
    ) -> None:
        """Reactor thread."""
        self._context = context
        self._handler = handler
        self.handler = handler
        self._pipes = pipes
        self._release = release
        self._pipe = ConnectionPipe(context.reactor, context.mailbox, twistedRequest)
        # When the run started, in the reactor's clock, for the access log.
        self._started = context.reactor.seconds()
        self.request = Request(twistedRequest, context, urlBase)
        self.response = Response(self.request, self._pipe, writerClassFor(twistedRequest))
        self._steps: Optional[SerialCalls] = None

    # -- starting ------------------------------------------------------------

    def start(self) -> None:
        """Run the handler in the thread pool.  Reactor thread."""
        self._context.threadpool.callInThread(self._runHandler)

    def answerHere(self) -> None:
        """
        Run the handler right here, on the reactor thread: for the server's
        own answers (a 404, a redirect, a listing), which never block.
        Reactor thread.
        """
        self._runHandler()

    def step(self, work: Callable[[], None]) -> None:
        """
        Run ``work`` in the thread pool after the steps given before it, one
        at a time: an HTTP/2 stream's ``handle_headers`` and ``handle_data``
        calls, which come before the body is complete.  Reactor thread.
        """
        if self._steps is None:
            self._steps = SerialCalls(self._context.threadpool)
        self._steps.call(work)

    def startAfterSteps(self) -> None:
        """Run the handler (as :meth:`start`) once the steps given so far are done.  Reactor thread."""
        if self._steps is None:
            self.start()
        else:
            self._steps.call(self._runHandler)

    # -- running -------------------------------------------------------------

    def _runHandler(self) -> None:
        """
        Run the handler, fold in what it returned, write, finish.  Worker
        thread (reactor thread for :meth:`answerHere`).
        """
        try:
            value = self._handler(self.request, self.response)
        except BaseException as error:
            self._fail(error)
        else:
            if inspect.iscoroutine(value) or isinstance(value, Deferred):
                self._context.reactor.callFromThread(self._awaitOnReactor, value)
                return
            self._complete(value)
        self._write()

    def _awaitOnReactor(self, value: Any) -> None:
        """
        ``async def main`` and Deferred-returning handlers: wait for the
        result on the reactor, cancelling it if the client goes away; then
        write the response right here when its body is bytes or text
        (nothing left that could block), else from a worker thread (a
        generator, a file or a trickle pipe may block).  Reactor thread.
        """
        result: Deferred[Any] = ensureDeferred(value) if inspect.iscoroutine(value) else value
        self._pipe.cancelOnDisconnect(result)

        def failed(failure: Failure) -> None:
            self._fail(failure.value or RuntimeError("handler failed"))

        def write(_: object) -> Optional[Deferred[None]]:
            if self.response.writer.content_written or isinstance(self.response.content, (bytes, str)):
                self._write()
                return None
            return deferToThreadPool(
                self._context.reactor,
                self._context.threadpool,  # type: ignore[arg-type]
                self._write,
            )

        result.addCallbacks(self._complete, failed)
        result.addCallback(write)
        result.addErrback(
            lambda failure: self._log.failure("Writing an asynchronous handler's response failed", failure)
        )

    def _complete(self, value: Any) -> None:
        """
        ``main`` returned ``value``: fold it into the response, then apply
        the pipes, unless the handler wrote the response itself.  Worker
        thread (reactor thread for asynchronous handlers).
        """
        if self.response.writer.content_written:
            return
        try:
            if value is not None:
                applyReturnValue(self.response, value)
            if self._pipes:
                Pipeline(self._pipes)(self.request, self.response)
        except BaseException as error:
            self._fail(error)

    def _fail(self, error: BaseException) -> None:
        """
        Turn a handler's exception into wptserve's JSON error response, or,
        once bytes are on the wire, log it and close the connection.  Any
        thread that runs the handler.
        """
        if isinstance(error, (KeyboardInterrupt, SystemExit)) and not isinstance(error, Exception):
            error = RuntimeError(f"handler raised {type(error).__name__}")
        response = self.response
        if response.writer.content_written:
            self._log.failure("Handler for {url} failed after writing", Failure(error), url=self.request.url)
            response.close_connection = True
            return
        if isHTTPException(error):
            code: int = error.code  # type: ignore[attr-defined]
            cause = errorCause(error) if 500 <= code < 600 else error
        else:
            code, cause = 500, error
        response.set_error(code, cause)

    def _write(self) -> None:
        """
        Write the response unless the handler already wrote through the
        writer, then finish it, always, whatever fails on the way.  Worker
        thread (reactor thread for answers and known-length async bodies).
        """
        response = self.response
        try:
            if not response.writer.content_written:
                response.write()
        except BaseException as error:
            if response.writer.content_written:
                self._log.failure("Writing the response to {url} failed", Failure(error), url=self.request.url)
                response.close_connection = True
            else:
                self._fail(error)
                try:
                    response.write()
                except BaseException as secondError:
                    self._log.failure(
                        "Writing the error for {url} failed", Failure(secondError), url=self.request.url
                    )
                    response.close_connection = True
        finally:
            self._finish()

    def _finish(self) -> None:
        """
        End the response, deciding here, and only here, whether the
        connection is kept for another request: only when a status line was
        written, the body was framed by a Content-Length, and nobody asked
        for the connection to close.  The access log gets the status line's
        code as written (by the server or by the handler, raw bytes
        included) and the run's time.  Any thread (the pipe hands the end to
        the reactor after every byte written before it).
        """
        response = self.response
        writer = response.writer
        persistent = (
            writer.status_written
            and writer.headers_complete
            and writer.saw_header(b"content-length")
            and not response.close_connection
        )
        code = writer.status_code
        runTime = self._context.reactor.seconds() - self._started
        self._pipe.finish(response.status[0] if code is None else code, persistent, runTime)
        if self._release is not None:
            self._release()
