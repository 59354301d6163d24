"""
Helpers for testing with twisted_pyhandlers in memory.

``treq.testing.StubTreq`` drives a resource over an in-memory transport,
with no sockets.  :func:`memoryClient` gives one over a document root whose
exchanges are finished when a request call returns:

.. code-block:: python

    from twisted_pyhandlers.testing import memoryClient

    client = memoryClient(root)
    response = client.result(client.get("http://example.test/handler.py?x=1"))
    assert client.result(response.text()) == "..."

(or ``response = await client.get(...)`` in a pytest-twisted test).  The
``pyhandlers_stubtreq`` fixture of the pytest plugin hands out the same.

Why a plain ``StubTreq(HandlerDirectory(root))`` hangs: the in-memory
transport moves bytes only when ``flush()`` is called, and the handler runs
in the thread pool, so it answers *after* the one ``flush()`` a test calls;
the answer then sits in the server's side of the transport and the
response Deferred never fires.  (In a synchronous test, the pool's answer
is also only delivered by a turn of the reactor, which does not come.)
:func:`memoryClient` takes away both waits: handlers run inline
(:class:`SynchronousThreadPool`), Twisted's static files are read to the end
inline, and every request call flushes until the server has finished.

What still needs the reactor: ``async def main`` handlers, Deferreds and
timed pipes (``trickle``).  In a pytest-twisted test, :class:`MemoryClient`
keeps flushing while the reactor turns, so those work; in a synchronous
test, :meth:`MemoryClient.result` says plainly that the answer did not come
in memory (use the ``pyhandlers`` fixture's real server there).  Handlers
that use ``response.writer`` work in memory, but only a real socket shows
the timing of their writes.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Union

from treq.testing import StubTreq
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import IResource, Resource, getChildForRequest
from twisted.web.server import Request as TwistedRequest

__all__ = ["MemoryClient", "NotAnsweredInMemory", "SynchronousThreadPool", "memoryClient"]

class SynchronousThreadPool:
    """
    A stand-in for :class:`twisted.python.threadpool.ThreadPool` that runs
    each call at once, in the calling thread.  Only what the handler
    resource uses is provided.
    """

    _log = Logger()

    def callInThread(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``func`` now; log (do not raise) what it raises, as a pool would."""
        try:
            func(*args, **kwargs)
        except BaseException:
            self._log.failure("Error in a synchronous 'thread'", Failure())

    def callInThreadWithCallback(
        self, onResult: Callable[[bool, Any], None], func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """Run ``func`` now and report its outcome to ``onResult``."""
        try:
            result = func(*args, **kwargs)
        except BaseException:
            onResult(False, Failure())
        else:
            onResult(True, result)

    def start(self) -> None:
        """Nothing to start."""

    def stop(self) -> None:
        """Nothing to stop."""


class NotAnsweredInMemory(Exception):
    """An in-memory request whose answer needs the reactor or never came."""


class _InlineRequests(Resource):
    """
    Wraps a tree for in-memory use: routes each request through it and
    renders the leaf with pull producers (Twisted's ``static.File``) driven
    to the end inline, where Twisted would hand them to a cooperator on the
    global reactor.  Counts the requests not yet finished, so the client
    knows when the server side is done.  Runs in whatever thread drives the
    in-memory transport (the test's).
    """

    isLeaf = True

    def __init__(self, tree: IResource) -> None:
        super().__init__()
        self.tree = tree
        self.open = 0

    def render(self, request: TwistedRequest) -> Any:
        self.open += 1
        request.notifyFinish().addBoth(self._finished)
        original = request.registerProducer

        def registerProducer(producer: Any, streaming: bool) -> None:
            if streaming:
                original(producer, streaming)
                return
            request.producer = producer
            request.streamingProducer = False
            while request.producer is producer and not request.finished and not request._disconnected:
                producer.resumeProducing()

        request.registerProducer = registerProducer  # type: ignore[method-assign]
        leaf = getChildForRequest(self.tree, request)
        return leaf.render(request)

    def _finished(self, result: object) -> None:
        self.open -= 1


class MemoryClient(StubTreq):  # type: ignore[misc]
    """
    A :class:`treq.testing.StubTreq` over a resource from
    :func:`memoryClient`: ``get``/``post``/``request``/... and
    ``content``/``text_content``/``json_content`` return Deferreds that
    already have their result when the server could answer inline.  Any other
    Deferred is flushed again on each turn of the reactor (so it fires in a
    pytest-twisted test) and fails with :class:`NotAnsweredInMemory` after
    ``timeout`` seconds.  Test thread.
    """

    _REQUESTS = ("get", "head", "post", "put", "patch", "delete", "request")
    _BODIES = ("content", "text_content", "json_content", "collect")

    def __init__(self, resource: _InlineRequests, *, reactor: Any = None, timeout: float = 10.0) -> None:
        super().__init__(resource)
        if reactor is None:
            from twisted.internet import reactor as globalReactor

            reactor = globalReactor
        self._resource = resource
        self._reactor = reactor
        self.timeout = timeout
        # StubTreq's request and body methods, by name, each wrapped to settle.
        for name in self._REQUESTS + self._BODIES:
            setattr(self, name, self._settling(getattr(self, name)))

    def _settling(self, function: Callable[..., Deferred[Any]]) -> Callable[..., Deferred[Any]]:
        def call(*args: Any, **kwargs: Any) -> Deferred[Any]:
            return self.settle(function(*args, **kwargs))

        call.__name__ = function.__name__
        call.__doc__ = function.__doc__
        return call

    def _pump(self) -> None:
        """Flush until the server has finished every request and all bytes moved."""
        self.flush()
        while self._resource.open:
            before = self._resource.open
            self.flush()
            if self._resource.open == before:
                break
        self.flush()

    def settle(self, pending: Deferred[Any]) -> Deferred[Any]:
        """
        ``pending``, flushed now and, if it has no result yet, on every turn
        of the reactor until it has one (or ``timeout`` passes).
        """
        self._pump()
        if _hasResult(pending):
            return pending
        settled: Deferred[Any] = Deferred()
        deadline = self._reactor.seconds() + self.timeout

        def poll() -> None:
            self._pump()
            if _hasResult(pending):
                pending.chainDeferred(settled)
            elif self._reactor.seconds() >= deadline:
                settled.errback(NotAnsweredInMemory(f"no answer in memory within {self.timeout:g} seconds"))
            else:
                self._reactor.callLater(0.001, poll)

        self._reactor.callLater(0, poll)
        return settled

    def result(self, pending: Deferred[Any]) -> Any:
        """
        The result of ``pending`` now, for synchronous tests (raises what it
        failed with).

        :raises NotAnsweredInMemory: if it has no result: the answer needs
            the reactor (``async def main``, a Deferred, ``trickle``), which
            does not turn during a synchronous test.
        """
        self._pump()
        box = _outcomeOf(pending)
        if not box:
            raise NotAnsweredInMemory(
                "the in-memory server has not answered: the answer needs the reactor "
                "(async def main, a Deferred, a trickle pipe), which does not turn in a "
                "synchronous test; use the pyhandlers fixture's real server, or a pytest-twisted test"
            )
        outcome = box[0]
        pending.addErrback(lambda _: None)
        if isinstance(outcome, Failure):
            outcome.raiseException()
        return outcome


def _outcomeOf(pending: Deferred[Any]) -> list[Any]:
    """
    A list that holds ``pending``'s result (or Failure) once it has a final
    one (not a nested Deferred); ``pending`` keeps its result.
    """
    box: list[Any] = []

    def keep(outcome: Any) -> Any:
        box.append(outcome)
        return outcome

    pending.addBoth(keep)
    return box


def _hasResult(pending: Deferred[Any]) -> bool:
    """Whether ``pending`` has fired with a final result (not a nested Deferred)."""
    return bool(_outcomeOf(pending))


def memoryClient(
    root: Union[str, "os.PathLike[str]"],
    *,
    stash: Any = None,
    config: Any = None,
    reactor: Any = None,
) -> MemoryClient:
    """
    An in-memory client over a :class:`~twisted_pyhandlers.HandlerDirectory`
    on ``root`` with handlers run inline (see the module docstring).

    :param stash: a :class:`~twisted_pyhandlers.stash.StashStore` or stash
        URL (default: a fresh in-memory store, so tests do not share one).
    :param config: a :class:`~twisted_pyhandlers.config.ServerConfig`.
    :param reactor: the reactor for timed calls; the global one by default.
    """
    from twisted_pyhandlers.resource import HandlerDirectory
    from twisted_pyhandlers.stash import MemoryStashStore

    if reactor is None:
        from twisted.internet import reactor as globalReactor

        reactor = globalReactor
    tree = HandlerDirectory(
        root,
        reactor=reactor,
        threadpool=SynchronousThreadPool(),
        stash=stash if stash is not None else MemoryStashStore(),
        config=config,
    )
    return MemoryClient(_InlineRequests(tree), reactor=reactor)
