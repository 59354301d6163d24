"""
The leaves of the tree that answer through a
:class:`~twisted_pyhandlers._run.HandlerRun`: a ``*.py`` handler file, run in
the thread pool, and the server's own answers (a 404, the redirect to a
directory's slash form, a listing), run on the reactor.

Each ``render`` only decides what to run and makes the run; the run does the
rest (as :class:`twisted.web.wsgi.WSGIResource` leaves it to its
``_WSGIResponse``).
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.server import Request as TwistedRequest
from zope.interface import implementer

from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._errors import NotFound
from twisted_pyhandlers._interfaces import IHandlerChannel, IStreamingResource, IStreamRun
from twisted_pyhandlers._pipes import filePipes, withQueryPipe
from twisted_pyhandlers._request import Request
from twisted_pyhandlers._response import Response
from twisted_pyhandlers._run import HandlerFunction, HandlerRun, urlBaseOf
from twisted_pyhandlers._script import HandlerScript, Signature


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
        return HandlerRun(
            context,
            request,
            script,
            urlBaseOf(request, self._depth),
            withQueryPipe(self._filePipes, queryOf(request)),
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
