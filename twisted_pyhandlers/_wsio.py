"""
The two byte streams of one WebSocket connection, as a handler thread sees
them: :class:`WebSocketInput` (what the client sent, read blocking) and
:class:`WebSocketOutput` (what the server sends, written from any thread).

pywebsocket's code (handshake, ``msgutil``, ``stream.Stream``) and the
``*_wsh.py`` handlers run in a handler thread and expect a blocking socket;
the socket here is a Twisted transport that only the reactor thread may
touch.  These two classes are where the two meet, the way
:class:`~twisted_pyhandlers._output.ResponseOutput` is for HTTP:

- bytes the reactor receives (``dataReceived``) are appended to the input,
  and a handler thread waiting in ``read`` or ``readline`` wakes up; when
  more than :data:`HIGH_WATER` bytes wait unread and the handler is not
  waiting for more, the transport is paused until the handler catches up;
- bytes a handler writes are handed to the reactor in order through the
  tree's :class:`~twisted_pyhandlers._output.ReactorMailbox`, exactly
  as written, with the back-pressure of every output
  (:class:`~twisted_pyhandlers._output.QueuedOutput`) (no framing is added here: a handler that writes a broken
  frame on purpose gets that frame on the wire); a writer waits while the
  transport's buffer is full or too much is queued.

Neither knows anything of HTTP or of WebSocket frames.
"""

from __future__ import annotations

import threading
from typing import Any, Optional, Union

from twisted.internet.interfaces import IConsumer, IReactorThreads, ITransport

from twisted_pyhandlers._output import HIGH_WATER, Item, QueuedOutput, ReactorMailbox

#: Unread input below which a paused transport is resumed.
LOW_WATER = HIGH_WATER // 4

#: What the output hands the reactor to close the connection (after bytes).
_CLOSE = ("close",)


class WebSocketInput:
    """
    What the client sent and the handler has not read yet.

    ``feed`` and ``end`` run in the reactor thread; ``read`` and
    ``readline`` in the handler thread, and block as reads of a socket's
    buffered file do.

    :param transport: paused while more than :data:`HIGH_WATER` bytes wait.
    """

    def __init__(self, reactor: IReactorThreads, transport: Any) -> None:
        self._reactor = reactor
        self._transport = transport
        self._buffer = bytearray()
        self._ended = False
        self._paused = False
        self._waiting = 0
        self._ready = threading.Condition(threading.Lock())

    # -- reactor thread ------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from the connection.  Reactor thread."""
        with self._ready:
            self._buffer += data
            self._ready.notify_all()
            # Never while a reader waits for more (a message larger than
            # the limit is read whole).
            if len(self._buffer) > HIGH_WATER and not self._paused and not self._waiting:
                self._paused = True
                self._transport.pauseProducing()

    def end(self) -> None:
        """The connection is gone: readers get what is left, then ``b""``.  Reactor thread."""
        with self._ready:
            self._ended = True
            self._ready.notify_all()

    def _resume(self) -> None:
        """Resume reading from the transport.  Reactor thread."""
        with self._ready:
            if not self._paused:
                return
            self._paused = False
        if not self._ended:
            self._transport.resumeProducing()

    # -- handler thread ------------------------------------------------------

    def read(self, size: Optional[int] = -1) -> bytes:
        """
        Up to ``size`` bytes, waiting until that many came or the
        connection ended (all of it until the end when ``size`` is
        negative or None).  Handler thread.
        """
        with self._ready:
            if size is None or size < 0:
                while not self._ended:
                    self._wait()
                size = len(self._buffer)
            else:
                while len(self._buffer) < size and not self._ended:
                    self._wait()
            return self._take(size)

    def readline(self, limit: Optional[int] = -1) -> bytes:
        """
        One line with its ``\\n``, at most ``limit`` bytes, or what is left
        at the end of the connection.  Handler thread.
        """
        with self._ready:
            while True:
                end = self._buffer.find(b"\n")
                if end >= 0:
                    size = end + 1
                    break
                if self._ended or (limit is not None and 0 <= limit <= len(self._buffer)):
                    size = len(self._buffer)
                    break
                self._wait()
            if limit is not None and limit >= 0:
                size = min(size, limit)
            return self._take(size)

    def _wait(self) -> None:
        """Wait for more input, reading from the transport meanwhile.  Holding the lock."""
        if self._paused:
            self._reactor.callFromThread(self._resume)
        self._waiting += 1
        try:
            self._ready.wait()
        finally:
            self._waiting -= 1

    def _take(self, size: int) -> bytes:
        """Remove and return the first ``size`` bytes.  Holding the lock."""
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        if self._paused and len(self._buffer) < LOW_WATER:
            self._reactor.callFromThread(self._resume)
        return data


class WebSocketOutput(QueuedOutput):
    """
    The bytes the server sends, written from the handler thread (or any
    other) and handed to the transport by the reactor, in order, with the
    back-pressure of every output (:class:`~twisted_pyhandlers._output.QueuedOutput`).

    Registered as the transport's streaming producer, so that a writer waits
    while the client does not read.  Made on the reactor thread.

    :ivar lost: True once the connection is gone (or closed): writes then
        raise :class:`BrokenPipeError`, as a socket's would.
    """

    def __init__(self, reactor: IReactorThreads, mailbox: ReactorMailbox, transport: IConsumerTransport) -> None:
        super().__init__(mailbox)
        self._reactor = reactor
        self._transport = transport
        self._closing = False
        transport.registerProducer(self, True)

    # -- handler thread --------------------------------------------------------

    def write(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """
        Send ``data``, exactly these bytes, after everything written before.
        Handler thread (or any thread but the reactor's).

        :raises TypeError: for anything that is not bytes-like (a ``str``),
            as a socket's ``send`` does.
        :raises BrokenPipeError: once the connection is gone.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a bytes-like object is required, not {type(data).__name__!r}")
        data = bytes(data)
        with self._lock:
            self._waitForRoom()
            if self.lost or self._closing:
                raise BrokenPipeError("the WebSocket connection is closed")
            if not data:
                return
            self._queue(data, len(data))

    def close(self) -> None:
        """
        Close the connection once everything written before has been handed
        to the transport.  Any thread; more than once is harmless.
        """
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._queue(_CLOSE, 0)

    # -- reactor thread ----------------------------------------------------------

    def receive(self, item: Item) -> None:
        """Hand bytes to the transport, or close it, as posted.  Reactor thread."""
        if isinstance(item, bytes):
            try:
                if not self.lost:
                    self._transport.write(item)
            finally:
                self._delivered(len(item))
        elif not self.lost:
            self._transport.unregisterProducer()
            self._transport.loseConnection()

    def connectionLost(self) -> None:
        """The connection is gone: waiting and later writers fail.  Reactor thread."""
        self._markLost()


class IConsumerTransport(ITransport, IConsumer):
    """A transport that takes a producer (every TCP and TLS transport of Twisted)."""
