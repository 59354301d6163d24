"""
Helpers for testing with twisted_pyhandlers in memory.

``treq.testing.StubTreq`` drives a resource over an in-memory transport,
with no sockets and no threads.  Give the :class:`HandlerDirectory` a
:class:`SynchronousThreadPool` and handlers run inline, on the thread that
drives the request, so a whole exchange completes inside one call:

.. code-block:: python

    from treq.testing import StubTreq
    from twisted_pyhandlers import HandlerDirectory
    from twisted_pyhandlers.testing import SynchronousThreadPool

    client = StubTreq(HandlerDirectory(root, threadpool=SynchronousThreadPool()))
    requested = client.get("http://example.test/handler.py?x=1")
    client.flush()  # the resource answers asynchronously (NOT_DONE_YET)
    response = yield requested

Handlers that sleep block the test for that long; handlers that need the
raw wire timing are tested over real sockets instead.  Plain static files
are served by Twisted's ``static.File``, whose pull producer the in-memory
transport of ``StubTreq`` does not drive to the end: test those on a real
port.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.logger import Logger
from twisted.python.failure import Failure

__all__ = ["SynchronousThreadPool"]


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
