"""
wpt's WebTransport handler API: the handler files of
``webtransport/handlers/`` run unchanged, session by session.

A handler file is named by the ``:path`` of the extended CONNECT that opens
a session, under the document root (``/webtransport/handlers/echo.py``).  Its
module body runs once per session, in a namespace of its own, and the
functions it defines are called as wpt's server calls them:
``connect_received(request_headers, response_headers)``,
``session_established(session)``,
``stream_data_received(session, stream_id, data, stream_ended)``,
``datagram_received(session, data)``,
``stream_reset(session, stream_id, error_code)`` and
``session_closed(session, close_info, abruptly=...)``; a file may define any
of them.  The ``session`` is a :class:`WebTransportSession`.

Threads: wpt calls handlers on its server's asyncio loop, so one handler
that sleeps stops every session.  Here each session's calls run in the
handler thread pool, one after another in the order the events came (a
:class:`SerialCalls` per session): a handler that sleeps delays its own
session and holds one pool thread, nobody else.  What a handler asks of its
session (send, create a stream, close...) runs on the reactor, which owns
the connection: the handler's thread waits for it (``blockingCallFromThread``),
so a stream ID is returned, and an error is raised, where the handler called.

:class:`WebTransportRun` is one session from the CONNECT to its end (on the
reactor, as ``_run.HandlerRun`` is one HTTP request); it reaches the
connection only through the :class:`SessionWire` its HTTP/3 connection
gives it (:mod:`twisted_pyhandlers._http3`).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple
from urllib.parse import urlsplit

from twisted.internet.threads import blockingCallFromThread
from twisted.logger import Logger
from twisted.python import threadable
from twisted.python.filepath import FilePath, InsecurePath

from twisted_pyhandlers._context import HandlerContext
from twisted_pyhandlers._threads import SerialCalls
from twisted_pyhandlers.stash import Stash

#: Request and response header lists, as aioquic gives and takes them.
Headers = List[Tuple[bytes, bytes]]
#: A session's close code and reason, as wpt's handlers see them.
CloseInfo = Tuple[int, bytes]

#: The stash path every session's ``session.stash`` uses by default (wpt's).
STASH_PATH = "/webtransport/handlers"

#: The close code of a session whose handler raised (the reason names the
#: callback and the exception).
HANDLER_ERROR_CODE = 500

#: The longest close reason WebTransport carries, in bytes.
MAX_REASON = 1024

#: The headers a CONNECT's answer starts with (wpt's, with our server's name).
BASE_RESPONSE_HEADERS: Headers = [(b"server", b"twisted_pyhandlers"), (b"sec-webtransport-http3-draft", b"draft02")]


class SessionWire(Protocol):
    """
    What a session needs of its HTTP/3 connection; every method runs on
    the reactor thread and sends what it did at the reactor's next turn.
    """

    def answer(self, sessionId: int, headers: Headers, endStream: bool) -> None:
        """Send the CONNECT's response headers."""

    def closeSession(self, sessionId: int, closeInfo: Optional[CloseInfo]) -> None:
        """Send CLOSE_WEBTRANSPORT_SESSION (when ``closeInfo`` is given) and end the CONNECT stream."""

    def createStream(self, sessionId: int, unidirectional: bool) -> int:
        """Open a WebTransport stream of the session; its ID."""

    def sendStreamData(self, streamId: int, data: bytes, endStream: bool) -> None:
        """Send on a stream."""

    def sendDatagram(self, sessionId: int, data: bytes) -> None:
        """Send one datagram of the session."""

    def stopStream(self, streamId: int, code: int) -> None:
        """STOP_SENDING on a stream."""

    def resetStream(self, streamId: int, code: int) -> None:
        """RESET_STREAM on a stream."""


def handlerFile(root: FilePath[str], path: bytes) -> Optional[FilePath[str]]:
    """
    The handler file a CONNECT's ``:path`` names under ``root`` (the query
    left out, as wpt), or None when there is none: a path that does not
    decode, leaves the root (``..``, a symlink out) or names no regular file.
    Reactor thread (a few ``stat`` calls, as the HTTP tree's lookups).
    """
    try:
        segments = urlsplit(path.decode("utf-8")).path.split("/")
    except UnicodeDecodeError:
        return None
    found = root
    try:
        for segment in segments:
            if segment:
                found = found.child(segment)
    except InsecurePath:
        return None
    if not found.isfile():
        return None
    real = found.realpath()
    if real != root and not real.path.startswith(root.path.rstrip("/") + "/"):
        return None
    return found


class WebTransportSession:
    """
    The ``session`` a handler is given: wpt's ``WebTransportSession``.

    Its methods are called from the session's handler thread (or any other
    thread); each runs on the reactor, the caller waiting for it.

    :ivar session_id: the session's ID (its CONNECT stream's).
    :ivar request_headers: the CONNECT's headers, as (name, value) bytes pairs.
    """

    def __init__(self, run: WebTransportRun, sessionId: int, requestHeaders: Headers, stash: Stash) -> None:
        self.session_id = sessionId
        self.request_headers = requestHeaders
        self._run = run
        self._stash = stash
        self._dict_for_handlers: Dict[str, Any] = {}

    @property
    def stash(self) -> Stash:
        """The server's stash (the HTTP handlers' too), with ``/webtransport/handlers`` as default path."""
        return self._stash

    @property
    def dict_for_handlers(self) -> Dict[str, Any]:
        """A dictionary of the session's, kept between its handler calls."""
        return self._dict_for_handlers

    def stream_is_unidirectional(self, stream_id: int) -> bool:
        """Whether ``stream_id`` is a unidirectional stream (its second bit, RFC 9000 2.1)."""
        return bool(stream_id & 0x2)

    def close(self, close_info: Optional[CloseInfo]) -> None:
        """
        Close the session: CLOSE_WEBTRANSPORT_SESSION with ``close_info``
        (code, reason bytes) when given, and the end of the CONNECT stream.
        ``session_closed`` is not called for a close the handler made.
        """
        self._run.onReactor(self._run.closeFromHandler, close_info)

    def create_unidirectional_stream(self) -> int:
        """Open a unidirectional stream to the client; its ID."""
        return self._run.onReactor(self._run.wire.createStream, self.session_id, True)  # type: ignore[no-any-return]

    def create_bidirectional_stream(self) -> int:
        """Open a bidirectional stream; its ID (what the client sends on it is ``stream_data_received``)."""
        return self._run.onReactor(self._run.wire.createStream, self.session_id, False)  # type: ignore[no-any-return]

    def send_stream_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """Send ``data`` on ``stream_id``, ending the stream if ``end_stream``."""
        self._run.onReactor(self._run.wire.sendStreamData, stream_id, data, end_stream)

    def send_datagram(self, data: bytes) -> None:
        """Send ``data`` as one datagram of the session."""
        self._run.onReactor(self._run.wire.sendDatagram, self.session_id, data)

    def stop_stream(self, stream_id: int, code: int) -> None:
        """Ask the client to stop sending on ``stream_id`` (STOP_SENDING with ``code``)."""
        self._run.onReactor(self._run.wire.stopStream, stream_id, code)

    def reset_stream(self, stream_id: int, code: int) -> None:
        """Reset ``stream_id`` (RESET_STREAM with ``code``)."""
        self._run.onReactor(self._run.wire.resetStream, stream_id, code)


class WebTransportHandlers:
    """
    What every session of one server shares: the document root, reactor,
    thread pool, stash and compiled-code cache of the HTTP handler tree.
    """

    def __init__(self, context: HandlerContext) -> None:
        self.context = context

    def handlerFor(self, path: bytes) -> Optional[FilePath[str]]:
        """The handler file of a CONNECT's ``:path``, or None.  Reactor thread."""
        return handlerFile(self.context.root, path)


class WebTransportRun:
    """
    One WebTransport session, from its CONNECT to its end; made and fed on
    the reactor by the HTTP/3 connection, its handler calls run in order in
    the thread pool.

    :param handlers: what the server's sessions share.
    :param wire: the session's HTTP/3 connection.
    :param sessionId: the CONNECT stream's ID.
    :param requestHeaders: the CONNECT's headers.
    :param path: the handler file.
    """

    _log = Logger()

    def __init__(
        self, handlers: WebTransportHandlers, wire: SessionWire, sessionId: int, requestHeaders: Headers, path: FilePath[str]
    ) -> None:
        context = handlers.context
        self.wire = wire
        self._context = context
        self._path = path
        self._calls = SerialCalls(context.threadpool)
        self._callbacks: Dict[str, Any] = {}
        self.session = WebTransportSession(self, sessionId, requestHeaders, Stash(context.stashStore, STASH_PATH))
        #: Set on the reactor once the CONNECT is answered 200.
        self.established = False
        #: Set on the reactor: no more events are queued (the session ended,
        #: was refused, or its handler failed); those queued before are
        #: still delivered, in order.
        self.finished = False
        #: Set on the reactor when the handler raised: nothing more of it is called.
        self.failed = False
        #: Whether session_closed may still be called (not after a close the server made).
        self._reportClose = True

    # -- reactor side: events from the connection --------------------------------

    def start(self) -> None:
        """Load the handler and answer the CONNECT, in the pool.  Reactor thread."""
        self._calls.call(self._connect)

    def streamDataReceived(self, streamId: int, data: bytes, ended: bool) -> None:
        """Data (or the end) on one of the session's streams.  Reactor thread."""
        self._queue("stream_data_received", self.session, streamId, data, ended)

    def datagramReceived(self, data: bytes) -> None:
        """A datagram of the session.  Reactor thread."""
        self._queue("datagram_received", self.session, data)

    def streamReset(self, streamId: int, code: int) -> None:
        """The client reset one of the session's streams.  Reactor thread."""
        self._queue("stream_reset", self.session, streamId, code)

    def closed(self, closeInfo: Optional[CloseInfo], abruptly: bool) -> None:
        """
        The session ended: the client's close (``abruptly`` False, with its
        code and reason if it sent them), or the CONNECT stream reset or the
        connection gone (``abruptly`` True).  ``session_closed`` is called
        once, unless the server closed the session first.  Reactor thread.
        """
        if self._reportClose and not self.finished:
            self._reportClose = False
            self._queue("session_closed", self.session, closeInfo, abruptly=abruptly)
        self.finished = True

    def _queue(self, name: str, *args: Any, **kwargs: Any) -> None:
        if not self.finished:
            self._calls.call(lambda: self._callIfLive(name, *args, **kwargs))

    # -- reactor side: what the handler asks for --------------------------------

    def onReactor(self, call: Callable[..., Any], *args: Any) -> Any:
        """Run ``call`` on the reactor and return its result (waiting for it from another thread).  Any thread."""
        if threadable.isInIOThread():
            return call(*args)
        return blockingCallFromThread(self._context.reactor, call, *args)  # type: ignore[arg-type]

    def closeFromHandler(self, closeInfo: Optional[CloseInfo]) -> None:
        """``session.close()``: send the close; ``session_closed`` is not called after it.  Reactor thread."""
        self._reportClose = False
        self.wire.closeSession(self.session.session_id, closeInfo)

    def _answer(self, headers: Headers, status: bytes) -> None:
        """Send the CONNECT's answer; a 200 establishes the session.  Reactor thread."""
        ok = status == b"200"
        if ok:
            self.established = True
        else:
            self.finished = True
        self.wire.answer(self.session.session_id, headers, not ok)

    def _fail(self, where: str, error: BaseException) -> None:
        """The handler raised: close the session with the error, and call it no more.  Reactor thread."""
        self.failed = True
        if not self.established:
            if not self.finished:
                self.finished = True
                self.wire.answer(self.session.session_id, [(b":status", b"500"), *BASE_RESPONSE_HEADERS[:1]], True)
            return
        self.finished = True
        if self._reportClose:
            self._reportClose = False
            reason = f"{where} raised {type(error).__name__}: {error}".encode("utf-8")[:MAX_REASON]
            self.wire.closeSession(self.session.session_id, (HANDLER_ERROR_CODE, reason.decode("utf-8", "ignore").encode("utf-8")))

    # -- handler threads ---------------------------------------------------------

    def _connect(self) -> None:
        """Run the handler file's body and ``connect_received``, answer, then ``session_established``.  Handler thread."""
        path = self._path.path
        try:
            code = self._context.codeCache.get(path)
            namespace: Dict[str, Any] = {"__file__": path}
            exec(code, namespace, namespace)
        except Exception as error:
            self._log.failure("WebTransport handler {path} failed to load", path=path)
            self.onReactor(self._fail, "loading the handler", error)
            return
        self._callbacks = namespace
        headers: Headers = list(BASE_RESPONSE_HEADERS)
        if not self._call("connect_received", self.session.request_headers, headers):
            return
        try:
            headers, status = _finalHeaders(headers)
        except (TypeError, ValueError) as error:
            self._log.failure("WebTransport handler {path}: connect_received gave bad response headers", path=path)
            self.onReactor(self._fail, "connect_received", error)
            return
        self.onReactor(self._answer, headers, status)
        if status == b"200":
            self._call("session_established", self.session)

    def _callIfLive(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Call the handler's ``name`` if the session is established and its handler has not failed.  Handler thread."""
        if self.established and not self.failed:
            self._call(name, *args, **kwargs)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> bool:
        """
        Call the handler's ``name`` if it has one; False if it raised (the
        error is logged with its traceback and closes the session).
        Handler thread.
        """
        callback = self._callbacks.get(name)
        if callback is None:
            return True
        try:
            callback(*args, **kwargs)
        except Exception as error:
            self._log.failure("WebTransport handler {path}: {name} raised", path=self._path.path, name=name)
            self.onReactor(self._fail, name, error)
            return False
        return True


def _finalHeaders(headers: Headers) -> Tuple[Headers, bytes]:
    """
    The response headers as wpt sends them: ``:status`` first (200 when the
    handler set none), every name and value bytes (text is encoded).

    :raises ValueError: for a header that is not a (name, value) pair.
    """
    encoded: Headers = []
    for name, value in headers:
        encoded.append((_bytes(name), _bytes(value)))
    status = next((value for name, value in encoded if name == b":status"), None)
    if status is None:
        return [(b":status", b"200"), *encoded], b"200"
    rest = [(name, value) for name, value in encoded if name != b":status"]
    return [(b":status", status), *rest], status


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, int):
        return str(value).encode("ascii")
    raise TypeError(f"a header name or value must be bytes or str, not {type(value).__name__}")
