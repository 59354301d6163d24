"""
The seams between the package's layers, named: what one layer asks of an
object another layer hands it, written down as zope ``Interface``\\ s (the
way Twisted names its own: ``IRequest``, ``IPushProducer``).

Each is provided, with ``@implementer``, by the classes named in its
docstring, and asked with ``providedBy`` where a plain Twisted object (a
plain ``Site``'s channel and request) may come in instead.  This module
imports nothing of the package, so every layer may import it.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol

from zope.interface import Attribute, Interface


class HandlerTimer(Protocol):
    """
    A timer a connection keeps for the handler timeout of its requests,
    aimed again for each (:class:`~twisted_pyhandlers._h11protocol.RepeatingTimer`).
    Reactor thread.
    """

    def start(self, seconds: float, callback: Callable[[], object]) -> None:
        """Call ``callback`` in ``seconds``, unless stopped or started again first."""

    def stop(self, callback: Callable[[], object]) -> None:
        """Disarm the timer if it is still aimed at ``callback``."""


class IHandlerChannel(Interface):
    """
    What a handler run asks of the connection its request came on: an
    HTTP/1.1 :class:`~twisted_pyhandlers._h11protocol.HandlerChannel` or an
    HTTP/2 :class:`~twisted_pyhandlers._h2protocol.HandlerH2Stream`.  A
    plain Twisted channel (a plain ``Site``) provides none of it; the run
    then writes HTTP/1.1 and keeps its own timer.  Reactor thread.
    """

    writerClass = Attribute(
        "The writer of the connection's wire format: a class taking "
        "``(output, response)`` (see :class:`twisted_pyhandlers._response.WriterBase`)."
    )

    streamRun = Attribute(
        "The :class:`IStreamRun` a resource started when the stream's headers "
        "arrived (HTTP/2), or None: its request then goes on to ``main``."
    )

    def handlerTimer(reactor: Any) -> Optional[HandlerTimer]:
        """
        The :class:`HandlerTimer` the connection keeps for the handler timeout of its requests, one after
        another (made on first use, on ``reactor``), or None when the run
        should make a timer of its own.
        """


class IHandlerRequest(Interface):
    """
    What the response's output and the access log ask of a Twisted request
    beyond ``IRequest``: provided by
    :class:`~twisted_pyhandlers._h11protocol.HandlerRequest` (the request
    class of both HTTP protocols).  Reactor thread.
    """

    answeredByRun = Attribute(
        "True once a handler run answers the request: the run writes its access "
        "log line when it ends, also when the client has gone."
    )
    accessLogged = Attribute("True once the request's access log line was written.")
    receivedHeaders = Attribute(
        "Every header field line as the client sent it, ``(name, value)`` in order, "
        "or None (an HTTP/2 request)."
    )
    handlerRunTime = Attribute("Seconds the handler run took, for verbose access logs; None when no handler ran.")

    def watchOutput(output: Any) -> None:
        """
        Tell ``output`` (a :class:`~twisted_pyhandlers._output.ResponseOutput`,
        or None to stop) when the request's connection is lost, instead of
        it waiting on ``notifyFinish`` (a Deferred per request).
        """


class IStreamRun(Interface):
    """
    A handler run started when an HTTP/2 stream's headers arrived, before
    its body: it hears of each DATA frame as it comes.  Provided by
    :class:`~twisted_pyhandlers._run.StreamRun`.  Reactor thread.
    """

    def dataReceived(frame: Any) -> None:
        """A DATA frame of the stream arrived (an ``h2`` ``DataReceived`` event)."""

    def start() -> None:
        """The stream's request is complete: go on to ``main`` once the frame steps are done."""


class IStreamingResource(Interface):
    """
    A resource that starts its run when an HTTP/2 stream's headers arrive
    (wptserve's ``handle_headers``/``handle_data``): provided by
    :class:`~twisted_pyhandlers._run.PythonFileResource`, asked by
    :class:`~twisted_pyhandlers._h2protocol.HandlerH2Stream`.  Reactor
    thread.
    """

    def startStream(request: Any, streamID: int, frame: Any) -> IStreamRun:
        """
        Start the run of ``request`` (its body not yet received), with
        ``frame`` (the ``RequestReceived`` event) as its first step.
        """
