"""
The thread-safe output of a connection: bytes (or frame-writing actions)
on their way from a handler thread to the connection's transport.

This is the layer below every wire format: it knows nothing of HTTP or
WebSocket framing (that is the writers'), only bytes, their order,
back-pressure and the end of a response.

Handlers run in a thread pool, but a transport may only be touched from the
reactor thread.  :class:`QueuedOutput` is the one mechanism where the two
meet, for every kind of connection: a handler thread hands it bytes, it
queues them for the reactor through the tree's :class:`ReactorMailbox` (in
order, as they are written, without waiting for the reactor), and it
applies back-pressure as a streaming producer of the transport, so that a
handler producing faster than the client reads is made to wait instead of
filling memory.  :class:`ResponseOutput` is the output of one HTTP response
(HTTP/1.1, or one HTTP/2 stream); the WebSocket output
(:class:`~twisted_pyhandlers._wsio.WebSocketOutput`) is one too.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional, Tuple, TypeVar, Union

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer, IReactorThreads
from twisted.internet.threads import blockingCallFromThread
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request as TwistedRequest
from zope.interface import implementer

from twisted_pyhandlers._accesslog import logUnfinished
from twisted_pyhandlers._interfaces import IHandlerRequest

#: How many bytes may be queued for the reactor but not yet handed to the
#: transport before a writing thread waits.  Large enough that a normal
#: response never waits, small enough that a 1 GiB body stays bounded.
HIGH_WATER = 256 * 1024

#: How much a transport may hand the kernel in one ``send`` once a response
#: writes a body larger than Twisted's default of 128 KiB per send.  Each
#: send is one turn of the reactor (a return from ``epoll``, a ``doWrite``),
#: so a large body goes out in fewer turns; the kernel still takes no more
#: than fits in the socket's buffer, so a slow client gets no more at once.
LARGE_SEND_LIMIT = 4 * 1024 * 1024


#: Bytes handed to the transport before the output registers as its producer
#: (Twisted's transports buffer this much before they would pause one).  A
#: small response is finished long before: it never pays for registering
#: and unregistering a producer it could not need.
PRODUCER_AFTER = 64 * 1024


T = TypeVar("T")


class Action:
    """
    Work for the reactor thread in a response's order (an HTTP/2 frame to
    send): ``run()`` is called there, after everything handed over before
    it.  ``size`` is how many body bytes it carries, for back-pressure and
    the access log.
    """

    __slots__ = ("run", "size")

    def __init__(self, run: Callable[[], object], size: int = 0) -> None:
        self.run = run
        self.size = size


#: What a worker thread hands the reactor for one output: bytes to send, an
#: :class:`Action` to run, or what ends it (each output knows its own).
Item = Union[bytes, Action, Tuple[Any, ...]]


class ReactorMailbox:
    """
    Everything worker threads hand to one reactor, for every response at
    once, in the order it was handed over.

    Each hand-over through ``callFromThread`` wakes the reactor (a write to
    its waker, a return from ``epoll``).  Under load, many responses finish
    while the reactor is busy: they share the wake-up already on its way
    instead of each paying for one, and a small response's bytes and its end
    never cost two.
    """

    def __init__(self, reactor: IReactorThreads) -> None:
        self._reactor = reactor
        self._lock = threading.Lock()
        self._items: List[Tuple["QueuedOutput", Item]] = []
        self._scheduled = False

    def post(self, output: "QueuedOutput", item: Item) -> None:
        """Queue ``item`` for ``output``; wake the reactor unless already asked.  Any thread."""
        with self._lock:
            self._items.append((output, item))
            if self._scheduled:
                return
            self._scheduled = True
        self._reactor.callFromThread(self._drain)

    def _drain(self) -> None:
        """Hand every queued item to its output, in order.  Reactor thread."""
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        for output, item in items:
            output.receive(item)


@implementer(IPushProducer)
class QueuedOutput:
    """
    Back-pressure, once for every kind of connection: items written from
    any thread are queued for the reactor through a :class:`ReactorMailbox`,
    and a writer waits while the transport asked its producer to pause or
    more than :data:`HIGH_WATER` bytes are queued.  The reactor hands each
    item to :meth:`receive` (the subclass's) and reports it delivered.

    :ivar lost: True once the connection is gone (or the output ended):
        waiting writers wake up, and writes fail.
    """

    def __init__(self, mailbox: ReactorMailbox) -> None:
        self._mailbox = mailbox
        # One plain lock guards the state below; a Condition on it (costly
        # to create) is made only when a writer actually has to wait.
        self._lock = threading.Lock()
        self._waiters: Optional[threading.Condition] = None
        self._paused = False
        self._queued = 0
        self.lost = False

    # -- IPushProducer: called by the transport, in the reactor thread ------

    def pauseProducing(self) -> None:
        """The transport's buffer is full: writers wait.  Reactor thread."""
        with self._lock:
            self._paused = True

    def resumeProducing(self) -> None:
        """The transport drained: waiting writers go on.  Reactor thread."""
        with self._lock:
            self._paused = False
            self._wakeWriters()

    def stopProducing(self) -> None:
        """The connection is going away.  Reactor thread."""
        self._markLost()

    # -- writers' side, holding the lock -------------------------------------

    def _waitForRoom(self) -> None:
        """Wait while the transport is paused or too much is queued, unless lost.  Holding the lock."""
        while (self._paused or self._queued > HIGH_WATER) and not self.lost:
            if self._waiters is None:
                self._waiters = threading.Condition(self._lock)
            self._waiters.wait()

    def _queue(self, item: Item, size: int) -> None:
        """Queue ``item`` (``size`` bytes) for :meth:`receive` on the reactor.  Holding the lock."""
        self._queued += size
        self._mailbox.post(self, item)

    # -- reactor side ----------------------------------------------------------

    def receive(self, item: Item) -> None:
        """Hand ``item`` to the transport (or end the output).  Reactor thread."""
        raise NotImplementedError

    def _delivered(self, size: int) -> None:
        """``size`` queued bytes reached the transport: make room for writers.  Reactor thread."""
        if size:
            with self._lock:
                self._queued -= size
                self._wakeWriters()

    def _markLost(self) -> None:
        with self._lock:
            self.lost = True
            self._wakeWriters()

    def _wakeWriters(self) -> None:
        """Wake writers waiting for room, if any.  Holding the lock."""
        if self._waiters is not None:
            self._waiters.notify_all()


class ResponseOutput(QueuedOutput):
    """
    A thread-safe, back-pressured output to one request's transport.

    Created on the reactor thread when a handler request starts; written to
    from the handler's worker thread (or from the reactor thread, for
    ``async`` handlers); finished exactly once.

    :ivar lost: True once the client has gone away (or the response was
        finished); writes then report failure instead of raising.
    :ivar bytesWritten: how many bytes were handed to the transport.
    :ivar bodyStart: where the body starts in the bytes written (the length
        of the status line and header block, 1xx responses before them
        included), as the writer of the wire format found it; None while
        the header block has not ended.  The access log's size field is the
        bytes handed to the transport after it.

    The access log line of the request is written when the response is
    finished, also when the client went away before (Twisted writes none
    for such a request).
    """

    _log = Logger()

    def __init__(self, reactor: IReactorThreads, mailbox: ReactorMailbox, request: TwistedRequest) -> None:
        """
        Runs in the reactor thread.

        :param mailbox: the mailbox of ``reactor`` that every output of the
            handler tree shares (see :class:`ReactorMailbox`).
        """
        super().__init__(mailbox)
        self._reactor = reactor
        self._request = request
        # Created in render(), so this is the reactor's thread (also when a
        # test drives the resource in memory without a running reactor).
        self._reactorThread = threading.get_ident()
        self._finishing = False
        self._takenOver = False
        # Whether anything of the response was handed over (bytes, frames).
        self._handedOver = False
        self.bytesWritten = 0
        self.bodyStart: Optional[int] = None
        #: Called on the reactor thread when the response is finished
        #: through :meth:`finish` (not when the client goes away first).
        self.onFinish: Optional[Callable[[], None]] = None
        self._producing = False
        # A HandlerRequest tells the output itself when its connection is
        # lost (no Deferred per request), and leaves its access log line to
        # the run; a plain Twisted request is watched through notifyFinish.
        self._watched = IHandlerRequest.providedBy(request)
        if self._watched:
            request.answeredByRun = True  # type: ignore[attr-defined]
            request.watchOutput(self)  # type: ignore[attr-defined]
        else:
            request.notifyFinish().addBoth(self._requestGone)

    def connectionLost(self) -> None:
        """The request's connection was lost (its HandlerRequest says so).  Reactor thread."""
        self._markLost()

    def _produceIfLarge(self) -> None:
        """
        Register as the request's producer once more than
        :data:`PRODUCER_AFTER` bytes went to the transport, so that a large
        body is paused when the client reads slowly.  Reactor thread.
        """
        if not self._producing and self.bytesWritten > PRODUCER_AFTER and not self.lost:
            self._producing = True
            self._request.registerProducer(self, True)

    # -- what handler threads call ------------------------------------------

    def write(self, data: bytes) -> bool:
        """
        Send ``data`` to the client, after everything written before it.

        Any thread.  From a worker thread this returns as soon as the bytes
        are queued for the reactor, unless too much is already queued or the
        transport asked us to pause, in which case it waits; it never waits
        for the client to read.

        :return: False if the client has gone away (the bytes are dropped),
            True otherwise.
        """
        if not data:
            return not self.lost
        return self._handOver(data, len(data))

    def perform(self, action: Action) -> bool:
        """
        Run ``action`` on the reactor thread, after everything written or
        performed before it, with the same back-pressure as :meth:`write`
        (``action.size`` counts as queued bytes).  Any thread; on the
        reactor thread it runs now.  Wire formats other than HTTP/1.1 bytes
        (HTTP/2 frames) go through here.

        :return: False if the client has gone away (the action is dropped).
        """
        return self._handOver(action, action.size)

    def _handOver(self, item: Union[bytes, Action], size: int) -> bool:
        """
        :meth:`write` and :meth:`perform`: on the reactor thread, deliver
        ``item`` now; from another thread, wait while the transport is
        paused or more than :data:`HIGH_WATER` is queued, then queue it
        (``size`` bytes) for the reactor.  Any thread.
        """
        if self._onReactorThread():
            if self._takenOver:
                return False
            self._handedOver = True
            if isinstance(item, bytes):
                self._deliver(item, 0)
            else:
                self._act(item, 0)
            return not self.lost
        with self._lock:
            self._waitForRoom()
            if self.lost or self._takenOver:
                return False
            self._handedOver = True
            self._queue(item, size)
        return True

    def callOnReactor(self, function: Callable[[], T]) -> T:
        """
        Call ``function`` on the reactor thread after everything handed over
        before, and return its result.  Any thread (from a worker it waits;
        on the reactor thread it is a plain call).
        """
        if self._onReactorThread():
            return function()
        result: T = blockingCallFromThread(self._reactor, function)
        return result

    @property
    def twistedRequest(self) -> TwistedRequest:
        """The Twisted request this output writes to (read it on the reactor thread)."""
        return self._request

    def cancelOnDisconnect(self, work: Deferred[Any]) -> None:
        """
        Cancel ``work`` if the client goes away before the response is
        finished (klein's rule: nobody is waiting for it any more).
        Reactor thread.
        """
        self._request.notifyFinish().addErrback(lambda _: work.cancel())

    def flush(self) -> bool:
        """
        Return once everything written so far has been handed to the
        transport.  Any thread; from the reactor thread it is immediate.

        :return: False if the client has gone away.
        """
        if not self._onReactorThread():
            blockingCallFromThread(self._reactor, _nothing)
        return not self.lost

    def finish(self, code: int, persistent: bool, runTime: Optional[float] = None) -> None:
        """
        End the response: the request is logged with ``code`` (and the
        handler's ``runTime`` in seconds, for verbose logs) and the
        connection is kept for the next request only if ``persistent``.
        Any thread; the work happens in the reactor thread after every byte
        written before this call.
        """
        if self._onReactorThread():
            if not self._takenOver:
                self._finish(code, persistent, runTime)
        else:
            with self._lock:
                if not self._takenOver:
                    self._queue((code, persistent, runTime), 0)

    def takeOver(self) -> bool:
        """
        Take the output from its writer, which is given up on (a handler that
        ran out of time): from now on what it writes is dropped and its
        :meth:`finish` does nothing; only :meth:`answerInstead` may still
        answer.  Reactor thread.

        :return: whether any byte of the response was written already (then
            the client can only be told by a closed connection).
        """
        with self._lock:
            self._takenOver = True
            started = self._handedOver
            self._wakeWriters()
        return started

    def answerInstead(
        self, answer: Union[bytes, Action, None], headLength: int, code: int, runTime: Optional[float] = None
    ) -> None:
        """
        After :meth:`takeOver`: send ``answer``, which the writer of the
        response's wire format made (bytes whose first ``headLength`` are
        the head, an :class:`Action` that writes frames, or None for
        nothing), and end the response with ``code``, closing the
        connection.  Reactor thread.
        """
        if isinstance(answer, Action):
            if not self.lost:
                self._act(answer, 0)
        elif answer and not self.lost:
            transport: Any = self._request.channel.transport  # type: ignore[union-attr]
            transport.write(answer)
            # The access log counts the body only.
            self.bodyStart = self.bytesWritten + headLength
            self.bytesWritten += len(answer)
        self._finish(code, False, runTime)

    # -- reactor-thread internals -------------------------------------------

    def _onReactorThread(self) -> bool:
        return threading.get_ident() == self._reactorThread

    def receive(self, item: Item) -> None:
        """Deliver bytes, or finish, as handed over.  Reactor thread."""
        if isinstance(item, bytes):
            self._deliver(item, len(item))
        elif isinstance(item, Action):
            if self._takenOver:
                # Handed over by a writer given up on: dropped, as its bytes are.
                item = Action(_nothing, item.size)
            self._act(item, item.size)
        else:
            self._finish(*item)

    def _act(self, action: Action, queued: int) -> None:
        """Run ``action`` unless the client has gone.  Reactor thread."""
        try:
            if not self.lost:
                action.run()
                self.bytesWritten += action.size
                self._produceIfLarge()
        except Exception:
            self._log.failure("Writing to {uri} failed", uri=self._request.uri)
        finally:
            self._delivered(queued)

    def _deliver(self, data: bytes, queued: int) -> None:
        """Hand ``data`` to the transport.  Reactor thread."""
        try:
            if not self.lost and not self._takenOver:
                transport: Any = self._request.channel.transport  # type: ignore[union-attr]
                # Twisted's own transports (FileDescriptor) have SEND_LIMIT;
                # a TLS or in-memory one need not.
                sendLimit = getattr(transport, "SEND_LIMIT", None)
                if sendLimit is not None and sendLimit < min(len(data), LARGE_SEND_LIMIT):
                    transport.SEND_LIMIT = LARGE_SEND_LIMIT
                transport.write(data)
                self.bytesWritten += len(data)
                self._produceIfLarge()
        finally:
            self._delivered(queued)

    def _finish(self, code: int, persistent: bool, runTime: Optional[float]) -> None:
        """
        Tell twisted.web the response is complete without letting it write
        a status line or headers of its own, and give the access log the
        real figures.  Reactor thread.
        """
        if self._finishing:
            return
        self._finishing = True
        if self.onFinish is not None:
            onFinish, self.onFinish = self.onFinish, None
            onFinish()
        request = self._request
        if self._watched:
            request.watchOutput(None)  # type: ignore[attr-defined]  # no cycle left behind
            request.handlerRunTime = runTime  # type: ignore[attr-defined]
        request.code = code
        bodyStart = self.bodyStart
        request.sentLength = 0 if bodyStart is None else max(0, self.bytesWritten - bodyStart)
        if self.lost or request._disconnected:  # type: ignore[attr-defined]
            # Twisted's finish() would neither end nor log it: log it here.
            logUnfinished(request)
            return
        if self._producing:
            request.unregisterProducer()
        # We wrote the status line ourselves: stop Request.finish() from
        # writing one.
        request.startedWriting = 1
        if not persistent and request.channel is not None:
            request.channel.persistent = False
        request.finish()
        self._markLost()

    def _requestGone(self, result: Optional[Failure]) -> None:
        """The request finished or its connection was lost.  Reactor thread."""
        self._markLost()



def _nothing() -> None:
    """A reactor call that does nothing: its return means the queue before it ran."""

