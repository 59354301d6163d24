"""
One request's run of a handler, from start to finish, and the leaves of
the tree that start one.

As in :mod:`twisted.web.wsgi`, the resource and its per-request object live
together: a leaf's ``render`` (:class:`PythonFileResource` for a ``*.py``
handler file, run in the thread pool; :class:`ServerAnswer` for the
server's own answers, a 404, the redirect to a directory's slash form, a
listing, run on the reactor) only decides what to run, makes a
:class:`HandlerRun` and starts it; the run does the rest.

This is the one object per request, on the model of
:class:`twisted.web.wsgi._WSGIResponse`: :class:`HandlerRun` holds that
request's state (the handler-facing request and response, the response output to
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

A run has a state (:class:`RunState`), changed under a lock because the
handler's thread and the reactor both decide things: it is ``RUNNING``
until it is either ``FINISHED`` (step 5) or ``TIMED_OUT``.  The handler
timeout (``--handler-timeout``) is a timer started in
:meth:`HandlerRun.start` (the connection's own
:class:`~twisted_pyhandlers._h11protocol.RepeatingTimer` on HTTP/1.1, a reactor
``callLater`` otherwise) and stopped when the response is finished; if it
fires first, the run is given up on: its client gets a 504 (or a closed
connection, if bytes were already written), the log names the handler and
shows the stack of its thread at that moment, the pool replaces that
thread, and whatever the handler does afterwards is dropped (its writes go
nowhere; its :meth:`HandlerRun._finish` finishes nothing).
"""

from __future__ import annotations

import enum
import inspect
import os
import sys
import threading
import traceback
from typing import Any, Callable, Optional, Sequence
from urllib.parse import quote

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.server import Request as TwistedRequest
from zope.interface import implementer

from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._errors import NotFound, errorCause, isHTTPException
from twisted_pyhandlers._h11writer import ResponseWriter
from twisted_pyhandlers._interfaces import HandlerTimer, IHandlerChannel, IStreamingResource, IStreamRun
from twisted_pyhandlers._output import ResponseOutput
from twisted_pyhandlers._pipes import Pipeline, filePipes, withQueryPipe
from twisted_pyhandlers._request import Request
from twisted_pyhandlers._response import Response, applyReturnValue
from twisted_pyhandlers._script import HandlerScript, Signature
from twisted_pyhandlers._threads import HandlerThreadPool, PoolExhausted, SerialCalls

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


def writerClassFor(channel: Optional[Any]) -> Any:
    """
    The writer of the wire format a response on ``channel`` (an
    :class:`~twisted_pyhandlers._interfaces.IHandlerChannel`, or None for a
    plain Twisted channel) is written in: the one our channel names
    (HTTP/1.1 bytes on a :class:`~twisted_pyhandlers._h11protocol.HandlerChannel`,
    HTTP/2 frames on a :class:`~twisted_pyhandlers._h2protocol.HandlerH2Stream`),
    or HTTP/1.1 on a plain Twisted channel (a plain ``Site``).  The one
    place that decides it.
    """
    if channel is not None:
        return channel.writerClass
    return ResponseWriter


class RunState(enum.Enum):
    """Where a :class:`HandlerRun` is."""

    #: Started; the handler (or the server's answer) is under way.
    RUNNING = "running"
    #: :meth:`HandlerRun._finish` ended the response.
    FINISHED = "finished"
    #: The handler timeout fired first: the client was answered 504 (or the
    #: connection closed) and the run's later writes and finish are dropped.
    TIMED_OUT = "timed out"


def timeoutBody(name: str, seconds: float) -> bytes:
    """The body of the 504 for a handler given up on after ``seconds``."""
    return f"Handler {name} did not finish within {seconds:g} s (--handler-timeout)\n".encode("utf-8")


def threadStack(thread: Optional[threading.Thread]) -> str:
    """What ``thread`` is doing right now, as a formatted stack."""
    if thread is None or thread.ident is None:
        return "  (no thread: it was waiting for one, or awaiting on the reactor)\n"
    frame = sys._current_frames().get(thread.ident)
    if frame is None:
        return "  (the thread has ended)\n"
    return "".join(traceback.format_stack(frame))


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
    :param name: what the log calls the handler (its file); defaults to
        the request path.

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
        name: Optional[str] = None,
    ) -> None:
        """Reactor thread."""
        self._context = context
        self._handler = handler
        self.handler = handler
        self._pipes = pipes
        self._release = release
        self._name = name
        channel = twistedRequest.channel
        # The connection the request came on, when it is one of ours (it
        # names the writer and keeps the handler timer); None on a plain
        # Twisted channel.
        self._channel: Optional[Any] = channel if IHandlerChannel.providedBy(channel) else None
        self._output = ResponseOutput(context.reactor, context.mailbox, twistedRequest)
        # When the run started, in the reactor's clock, for the access log.
        self._started = context.reactor.seconds()
        self.request = Request(twistedRequest, context, urlBase)
        self.response = Response(self.request, self._output, writerClassFor(self._channel))
        self._steps: Optional[SerialCalls] = None
        # The state, and the thread running the handler right now (None
        # while it waits for one, or awaits on the reactor), change under
        # this lock: the timeout decides on the reactor, the handler in its
        # thread.
        self._lock = threading.Lock()
        self.state = RunState.RUNNING
        self._thread: Optional[threading.Thread] = None
        self._timer: Optional[IDelayedCall] = None
        self._sharedTimer: Optional[HandlerTimer] = None
        self._awaiting: Optional[Deferred[Any]] = None

    # -- starting ------------------------------------------------------------

    def start(self) -> None:
        """
        Run the handler in the thread pool, within the context's handler
        timeout if it has one; answer 503 at once if the pool is exhausted
        by stuck handlers.  Reactor thread.
        """
        self._startTimer()
        try:
            self._context.threadpool.callInThread(self._runHandler)
        except PoolExhausted as error:
            self._log.error("Refused {name}: {error}", name=self.name, error=str(error))
            self.response.set_error(503, str(error))
            self._write()

    def _startTimer(self) -> None:
        """
        Start the handler timeout, if the context has one: on the timer of
        the request's connection when it keeps one for its requests, one
        after another (an HTTP/1.1 :class:`~twisted_pyhandlers._h11protocol.HandlerChannel`),
        else a timer of the run's own.  Reactor thread.
        """
        timeout = self._context.handlerTimeout
        if not timeout or self._timer is not None or self._sharedTimer is not None:
            return
        channel = self._channel
        timer: Optional[HandlerTimer] = None
        if channel is not None:
            timer = channel.handlerTimer(self._context.reactor)
        if timer is not None:
            timer.start(timeout, self._timedOut)
            self._sharedTimer = timer
        else:
            self._timer = self._context.reactor.callLater(timeout, self._timedOut)
        self._output.onFinish = self._cancelTimer

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
            self._startTimer()
            self._steps.call(self._runHandler)

    # -- running -------------------------------------------------------------

    @property
    def name(self) -> str:
        """What the log calls the handler."""
        return self._name or self.request.request_path

    def _runHandler(self) -> None:
        """
        Run the handler, fold in what it returned, write, finish.  Worker
        thread (reactor thread for :meth:`answerHere`).
        """
        if not self._enter():
            return
        try:
            try:
                value = self._handler(self.request, self.response)
            except BaseException as error:
                self._fail(error)
            else:
                if inspect.iscoroutine(value) or isinstance(value, Deferred):
                    self._leave()
                    self._context.reactor.callFromThread(self._awaitOnReactor, value)
                    return
                self._complete(value)
            self._write()
        finally:
            self._leave()

    def _enter(self) -> bool:
        """
        This thread takes up the run, unless it was given up on already
        (then the run is let go of here).  Worker thread.
        """
        with self._lock:
            if self.state is RunState.RUNNING:
                self._thread = threading.current_thread()
                return True
        self._releaseOnce()
        return False

    def _leave(self) -> None:
        """This thread is done with the run.  Worker thread."""
        with self._lock:
            if self._thread is threading.current_thread():
                self._thread = None

    def _writeInThread(self) -> None:
        """:meth:`_write`, for an asynchronous handler's body.  Worker thread."""
        if not self._enter():
            return
        try:
            self._write()
        finally:
            self._leave()

    def _awaitOnReactor(self, value: Any) -> None:
        """
        ``async def main`` and Deferred-returning handlers: wait for the
        result on the reactor, cancelling it if the client goes away; then
        write the response right here when its body is bytes or text
        (nothing left that could block), else from a worker thread (a
        generator, a file or a trickle pipe may block).  Reactor thread.
        """
        result: Deferred[Any] = ensureDeferred(value) if inspect.iscoroutine(value) else value
        self._output.cancelOnDisconnect(result)
        if self.state is RunState.TIMED_OUT:
            result.cancel()
        else:
            self._awaiting = result
            result.addBoth(self._awaited)

        def failed(failure: Failure) -> None:
            self._fail(failure.value or RuntimeError("handler failed"))

        def write(_: object) -> Optional[Deferred[None]]:
            if self.response.writer.content_written or isinstance(self.response.content, (bytes, str)):
                self._write()
                return None
            return deferToThreadPool(
                self._context.reactor,
                self._context.threadpool,  # type: ignore[arg-type]
                self._writeInThread,
            )

        result.addCallbacks(self._complete, failed)
        result.addCallback(write)
        result.addErrback(
            lambda failure: self._log.failure("Writing an asynchronous handler's response failed", failure)
        )

    def _awaited(self, result: Any) -> Any:
        """The asynchronous handler is done.  Reactor thread."""
        self._awaiting = None
        return result

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
        included) and the run's time.  Any thread (the output hands the end to
        the reactor after every byte written before it).

        The handler file's namespace is let go first: once the end is handed
        over, the client may have its answer at any moment, and what the
        module body built is freed by then.
        """
        with self._lock:
            if self.state is not RunState.RUNNING:
                # Given up on: the client was answered already.
                timedOut = True
            else:
                self.state = RunState.FINISHED
                timedOut = False
        self._releaseOnce()
        if not timedOut:
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
            self._output.finish(response.status[0] if code is None else code, persistent, runTime)

    def _releaseOnce(self) -> None:
        """Let go of the handler file's namespace, once.  Any thread."""
        release, self._release = self._release, None
        if release is not None:
            release()

    # -- the handler timeout -------------------------------------------------

    def _cancelTimer(self) -> None:
        """The response is finished: the timeout is not needed.  Reactor thread."""
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
        shared, self._sharedTimer = self._sharedTimer, None
        if shared is not None:
            shared.stop(self._timedOut)

    def _timedOut(self) -> None:
        """
        The handler is still running after the handler timeout: give up on
        it.  Log its stack, answer its client 504 (or close the connection
        if bytes were written), have the pool replace its thread (or drop
        it from the queue if it never got one), cancel it if it awaits.
        Reactor thread.
        """
        self._timer = self._sharedTimer = None
        with self._lock:
            if self.state is not RunState.RUNNING:
                return
            self.state = RunState.TIMED_OUT
            thread = self._thread
        seconds = self._context.handlerTimeout or 0
        started = self._output.takeOver()
        stack = threadStack(thread)
        pool = self._context.threadpool
        waiting = False
        # Only our own pool can replace a stuck thread or drop a queued call.
        if isinstance(pool, HandlerThreadPool):
            if thread is not None:
                pool.abandon(thread)
            else:
                waiting = pool.discard(self._runHandler)
        self._log.error(
            "Handler {name} still running after {seconds} s (--handler-timeout): {outcome}; "
            "{where}:\n{stack}",
            name=self.name,
            seconds=f"{seconds:g}",
            outcome="connection closed (bytes already written)" if started else "answered 504",
            where=f"its thread {thread.name} replaced, its stack" if thread is not None else "its stack",
            stack=stack,
        )
        self.response.writer.answerInstead(
            None if started else timeoutBody(self.name, seconds), 504, self._context.reactor.seconds() - self._started
        )
        awaiting, self._awaiting = self._awaiting, None
        if awaiting is not None:
            awaiting.cancel()
        if waiting:
            self._releaseOnce()


# -- the leaves that start a run ----------------------------------------------------


def notFound(request: Request, response: Response) -> None:
    """The answer to every URL that names nothing under the root: a 404 naming its path."""
    raise NotFound(request.url_parts.path)


def notRouted(request: Request, response: Response) -> None:
    """
    The answer to a method that no route takes (other than GET or HEAD on
    static content): wptserve's router finds no handler and answers a 404
    with an empty message; ours names the method and the path.
    """
    response.set_error(404, f"No handler for {request.method} {request.url_parts.path}")


def redirectToSlash(request: Request, response: Response) -> None:
    """A directory URL without its slash: 301 to the slash form, as wptserve."""
    response.status = 301
    response.headers = [("Location", "%s/" % request.url)]


def queryOf(request: TwistedRequest) -> str:
    """The query string of ``request`` as sent (ISO-8859-1 decoded)."""
    return request.uri.partition(b"?")[2].decode("iso-8859-1")


@implementer(IStreamingResource)
class PythonFileResource(Resource):
    """
    A ``*.py`` handler file: compiled once (see
    :class:`~twisted_pyhandlers._script.CodeCache`), executed per request in
    a fresh namespace holding ``__file__``, then its ``main`` called (see
    :class:`~twisted_pyhandlers._script.HandlerScript`), in the thread pool.

    :ivar path: the file, an absolute path inside the root.
    :ivar segments: the URL path segments from the tree's root to here;
        they give ``request.url_base`` when the tree is mounted under a
        prefix.
    """

    isLeaf = True

    def __init__(self, context: HandlerContext, path: str, segments: Sequence[bytes]) -> None:
        super().__init__()
        self._context = context
        self.path = path
        self.segments = tuple(segments)
        self._depth = len(self.segments)
        self._filePipes = filePipes(path, context.root.path)
        # What the tree's lookup of this request found on disk, so that the
        # run need not ask again (see noteStatus).
        self._signature: Optional[Signature] = None

    def noteStatus(self, status: os.stat_result) -> None:
        """
        The tree found the file with this ``os.stat`` result for the request
        it is about to render: the code cache compares it with the code it
        holds instead of asking the disk a second time.  Reactor thread
        (between the lookup and the render of one request, which nothing
        comes between).
        """
        self._signature = (status.st_mtime_ns, status.st_size)

    def render(self, request: TwistedRequest) -> object:
        """
        Start the handler in the thread pool, or, on an HTTP/2 stream whose
        run began with its headers (:meth:`startStream`), go on to ``main``
        once the frame steps are done.  Reactor thread.
        """
        channel = request.channel
        if IHandlerChannel.providedBy(channel) and channel.streamRun is not None:  # type: ignore[attr-defined]
            channel.streamRun.start()  # type: ignore[attr-defined]
            return NOT_DONE_YET
        self._makeRun(request).start()
        return NOT_DONE_YET

    def _makeRun(self, request: TwistedRequest) -> HandlerRun:
        context = self._context
        signature, self._signature = self._signature, None
        script = HandlerScript(context.codeCache, self.path, signature)
        query = queryOf(request)
        return HandlerRun(
            context,
            request,
            script,
            urlBaseOf(request, self._depth),
            # A URL without a query names no pipe.
            withQueryPipe(self._filePipes, query) if query else self._filePipes,
            release=script.release,
            name=self.path,
        )

    def startStream(self, request: TwistedRequest, streamID: int, frame: object) -> IStreamRun:
        """
        An HTTP/2 stream's headers arrived (its body may not have): start
        the run now, with the file's ``handle_headers(frame, request,
        response)`` as its first step, as wptserve's HTTP/2 server does.
        Called by :class:`~twisted_pyhandlers._h2protocol.HandlerH2Stream`.
        Reactor thread.
        """
        streamRun = StreamRun(self._makeRun(request), streamID)
        streamRun.frameReceived("handle_headers", frame)
        return streamRun


@implementer(IStreamRun)
class StreamRun:
    """
    One HTTP/2 stream's handler run while its frames arrive: each frame is
    a step of the run (``handle_headers``, then ``handle_data`` per DATA
    frame), in order, in the thread pool.  Reactor thread.
    """

    def __init__(self, run: HandlerRun, streamID: int) -> None:
        self.run = run
        run.request.h2_stream_id = streamID  # type: ignore[attr-defined]
        run.request.frames = []  # type: ignore[attr-defined]

    def start(self) -> None:
        """The stream's request is complete: ``main`` runs once the frame steps are done."""
        self.run.startAfterSteps()

    def frameReceived(self, name: str, frame: object) -> None:
        """Queue the step for ``frame``: its handler function is ``name``."""
        run = self.run
        script = run.handler
        assert isinstance(script, HandlerScript)

        def step() -> None:
            run.request.frames.append(frame)  # type: ignore[attr-defined]
            script.frameStep(name, frame, run.request, run.response)

        run.step(step)

    def dataReceived(self, frame: object) -> None:
        """A DATA frame arrived."""
        self.frameReceived("handle_data", frame)


class ServerAnswer(Resource):
    """
    The server's own answer to a URL, decided in ``getChild`` and given on
    the reactor with no thread hop: ``answer(request, response)`` never
    blocks.  It is written by the same response machinery as a handler's,
    so it has the same headers (``Server`` included) and error bodies.
    """

    isLeaf = True

    def __init__(self, context: HandlerContext, answer: HandlerFunction, segments: Sequence[bytes]) -> None:
        super().__init__()
        self._context = context
        self._answer = answer
        self.segments = tuple(segments)

    def render(self, request: TwistedRequest) -> object:
        """Answer now.  Reactor thread."""
        HandlerRun(self._context, request, self._answer, urlBaseOf(request, len(self.segments))).answerHere()
        return NOT_DONE_YET
