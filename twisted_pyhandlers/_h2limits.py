"""
What one HTTP/2 client may cost the server: the limits the ``h2`` port
holds every connection and every client address to, against the known
HTTP/2 attacks (Rapid Reset, CVE-2023-44487, above all).

A stream costs little until a handler runs for it: a thread of the pool,
for as long as the handler takes.  A client that opens streams and resets
them at once (Rapid Reset) never has more than the advertised 100 streams
open, yet could have a handler started for every stream it ever opened.
So the server counts, per connection and per client address, the streams
whose handler run holds a place (from the moment the run is made until it
lets go of its thread), and a new stream over either bound is refused with
``RST_STREAM REFUSED_STREAM`` (RFC 9113 8.7: nothing was processed, a
client may retry it) before anything runs.  Resets, the client's and our
refusals, are paid for from two token buckets, one of the connection and
one of the client address (kept across its connections, so reconnecting
buys nothing); when either is empty the connection is closed with ``GOAWAY
ENHANCE_YOUR_CALM``, as Twisted's own bucket and Hypercorn do.  While an
address's bucket is low (under :data:`CLIENT_RECONNECT_TOKENS`, a second
of refill), its new connections are closed at once, before the TLS
handshake (the costliest part of a reconnecting flood).

Everything here runs on the reactor thread.
"""

from __future__ import annotations

from typing import Dict

#: Streams with a handler run holding a place, per connection: the
#: ``SETTINGS_MAX_CONCURRENT_STREAMS`` the ``h2`` library advertises.
RUNS_PER_CONNECTION = 100

#: Streams with a handler run holding a place, per client address, over
#: all its HTTP/2 connections: half the default thread pool, so that one
#: address cannot hold every thread.
RUNS_PER_CLIENT = 128

#: Resets a connection may spend at once, and how many come back a second.
CONNECTION_RESET_BURST = 200
CONNECTION_RESET_RATE = 33.0

#: Resets a client address may spend at once, over all its connections,
#: and how many come back a second.
CLIENT_RESET_BURST = 1000
CLIENT_RESET_RATE = 100.0

#: Tokens an address's bucket must hold again before its new connections
#: are taken, once it ran empty: a second of refill.
CLIENT_RECONNECT_TOKENS = 100

#: How many client addresses are remembered before full buckets and idle
#: addresses are forgotten.
CLIENTS_REMEMBERED = 4096


class TokenBucket:
    """
    ``burst`` tokens at most, refilled at ``rate`` a second; :meth:`take`
    spends one.  Starts full.
    """

    __slots__ = ("burst", "rate", "tokens", "stamp")

    def __init__(self, burst: float, rate: float, now: float) -> None:
        self.burst = burst
        self.rate = rate
        self.tokens = burst
        self.stamp = now

    def refill(self, now: float) -> None:
        """Add what ``now - stamp`` seconds earned (a clock stepping back earns nothing)."""
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.stamp = now

    def take(self, now: float) -> bool:
        """Spend a token; False (and nothing spent) if none is left."""
        self.refill(now)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def full(self, now: float) -> bool:
        """Whether the bucket has refilled completely."""
        self.refill(now)
        return self.tokens >= self.burst


class ClientLimits:
    """
    What every HTTP/2 client address holds on one site: its streams with a
    handler run holding a place, and its reset bucket.  Shared by the
    site's connections.  Reactor thread.
    """

    def __init__(
        self,
        runsPerClient: int = RUNS_PER_CLIENT,
        resetBurst: float = CLIENT_RESET_BURST,
        resetRate: float = CLIENT_RESET_RATE,
    ) -> None:
        self.runsPerClient = runsPerClient
        self._resetBurst = resetBurst
        self._resetRate = resetRate
        self._runs: Dict[str, int] = {}
        self._resets: Dict[str, TokenBucket] = {}
        # Addresses whose new connections are being dropped, and how many.
        self._dropping: Dict[str, int] = {}

    def runsOf(self, client: str) -> int:
        """How many runs ``client`` holds now."""
        return self._runs.get(client, 0)

    def mayRun(self, client: str) -> bool:
        """Whether ``client`` may have one more run."""
        return self._runs.get(client, 0) < self.runsPerClient

    def runStarted(self, client: str) -> None:
        """A run of ``client`` took a place."""
        self._runs[client] = self._runs.get(client, 0) + 1

    def runEnded(self, client: str) -> None:
        """A run of ``client`` let go of its place."""
        left = self._runs.get(client, 0) - 1
        if left > 0:
            self._runs[client] = left
        else:
            self._runs.pop(client, None)

    def mayConnect(self, client: str, now: float) -> bool:
        """
        Whether a new connection of ``client`` is taken: not while its reset
        bucket holds under :data:`CLIENT_RECONNECT_TOKENS` (the connection
        is then counted as dropped).
        """
        bucket = self._resets.get(client)
        if bucket is None:
            return True
        bucket.refill(now)
        if bucket.tokens >= min(CLIENT_RECONNECT_TOKENS, bucket.burst):
            return True
        self._dropping[client] = self._dropping.get(client, 0) + 1
        return False

    def droppedSince(self, client: str) -> int:
        """How many connections of ``client`` were dropped since it was last asked (and forget them)."""
        return self._dropping.pop(client, 0)

    def spendReset(self, client: str, now: float) -> bool:
        """A reset by or for ``client``; False once its bucket is empty."""
        bucket = self._resets.get(client)
        if bucket is None:
            if len(self._resets) >= CLIENTS_REMEMBERED:
                self._forgetFull(now)
            bucket = self._resets[client] = TokenBucket(self._resetBurst, self._resetRate, now)
        return bucket.take(now)

    def _forgetFull(self, now: float) -> None:
        """Forget the addresses whose buckets are full again (they owe nothing)."""
        for client in [client for client, bucket in self._resets.items() if bucket.full(now)]:
            del self._resets[client]
