"""
A timer aimed again for each use instead of made and cancelled per use.

Every request on a keep-alive connection needs a handler timeout that is
almost never reached.  A reactor ``callLater`` made and cancelled per request
costs a ``DelayedCall``, a push onto the reactor's heap and, once cancelled
calls pile up, a rebuild of that heap; aiming the same ``DelayedCall`` later
(``DelayedCall.reset``) costs an addition, and the reactor moves it in its
heap only if it ever comes due.  :class:`RepeatingTimer` is that one timer,
kept by each HTTP/1.1 connection for the requests it carries one after
another.
"""

from __future__ import annotations

from typing import Callable, Optional

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class RepeatingTimer:
    """
    One timer for a series of uses, one at a time: :meth:`start` aims it
    at a callback, :meth:`stop` disarms it without cancelling the reactor
    call underneath (a call that comes due disarmed does nothing), and
    :meth:`close` cancels that call for good.  Reactor thread throughout.

    Aiming it sooner than it is already aimed (a shorter timeout than the
    last one) makes a new call, as the reactor would have to move the old one
    in its heap anyway.
    """

    __slots__ = ("_clock", "_call", "_callback")

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._call: Optional[IDelayedCall] = None
        self._callback: Optional[Callable[[], object]] = None

    def start(self, seconds: float, callback: Callable[[], object]) -> None:
        """Call ``callback`` in ``seconds``, unless stopped or started again first."""
        self._callback = callback
        call = self._call
        if call is not None and call.active():
            if call.getTime() <= self._clock.seconds() + seconds:
                call.reset(seconds)
                return
            call.cancel()
        self._call = self._clock.callLater(seconds, self._fire)

    def stop(self, callback: Callable[[], object]) -> None:
        """Disarm the timer if it is still aimed at ``callback`` (compared with ``==``: bound methods are made anew on each access)."""
        if self._callback == callback:
            self._callback = None

    def close(self) -> None:
        """Cancel the timer for good (its connection is gone)."""
        self._callback = None
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()

    def _fire(self) -> None:
        self._call = None
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()
