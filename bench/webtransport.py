"""
WebTransport figures on their own: a ``twistd pyhandlers`` process with a
``webtransport-h3`` port on loopback and an echo handler, and aioquic's
client measuring, one at a time,

- the handshake: a new QUIC connection and an extended CONNECT answered 200
  (from the client's first datagram to the response headers);
- a stream round trip: bytes on a bidirectional stream until their echo is
  back;
- a datagram round trip: a datagram until its echo is back.

Run it with ``python bench/webtransport.py [--handshakes N] [--echoes N]``;
it prints the median, 90th percentile and the rate of each.  wpt's own
WebTransport server is not measured beside it: it runs from a checkout of
wpt's ``tools/`` (its ``wptserve`` and ``tools.localpaths`` imports), which
the bench does not have.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, FrameType, H3Connection
from aioquic.h3.events import DatagramReceived, H3Event, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import QuicEvent

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import REPO  # noqa: E402

#: The echo handler, after wpt's webtransport/handlers/echo.py.
ECHO = """\
def stream_data_received(session, stream_id, data, stream_ended):
    session.send_stream_data(stream_id, data, end_stream=stream_ended)


def datagram_received(session, data):
    session.send_datagram(data)
"""


class Client(QuicConnectionProtocol):
    """Wakes the waiter of whatever arrives: headers, stream bytes, datagrams."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.http = H3Connection(self._quic, enable_webtransport=True)
        self.waiter: asyncio.Future[H3Event] | None = None
        self.received: Dict[int, bytes] = {}

    def quic_event_received(self, event: QuicEvent) -> None:
        for h3event in self.http.handle_event(event):
            if isinstance(h3event, WebTransportStreamDataReceived):
                self.received[h3event.stream_id] = self.received.get(h3event.stream_id, b"") + h3event.data
            if isinstance(h3event, (HeadersReceived, WebTransportStreamDataReceived, DatagramReceived)):
                if self.waiter is not None and not self.waiter.done():
                    self.waiter.set_result(h3event)

    async def next(self) -> H3Event:
        self.waiter = asyncio.get_running_loop().create_future()
        return await asyncio.wait_for(self.waiter, 10)

    async def session(self, port: int) -> int:
        streamId = self._quic.get_next_available_stream_id()
        self.http.send_headers(streamId, [
            (b":method", b"CONNECT"), (b":protocol", b"webtransport"), (b":scheme", b"https"),
            (b":authority", f"localhost:{port}".encode()), (b":path", b"/webtransport/handlers/echo.py"),
            (b"origin", b"https://web-platform.test"),
        ])
        self.transmit()
        while not isinstance(await self.next(), HeadersReceived):
            pass
        return streamId

    def stream(self, sessionId: int) -> int:
        streamId = self.http.create_webtransport_stream(sessionId)
        with self.http._get_or_create_stream(streamId) as stream:
            stream.frame_type = FrameType.WEBTRANSPORT_STREAM
            stream.session_id = sessionId
        return streamId


def configuration() -> QuicConfiguration:
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, max_datagram_frame_size=65536)
    config.verify_mode = ssl.CERT_NONE
    return config


async def measure(port: int, handshakes: int, echoes: int) -> Dict[str, List[float]]:
    times: Dict[str, List[float]] = {"handshake": [], "stream echo": [], "datagram echo": []}
    for _ in range(handshakes):
        start = time.perf_counter()
        async with connect("127.0.0.1", port, configuration=configuration(), create_protocol=Client) as client:
            await client.session(port)  # type: ignore[attr-defined]
            times["handshake"].append(time.perf_counter() - start)
    async with connect("127.0.0.1", port, configuration=configuration(), create_protocol=Client) as client:
        sessionId = await client.session(port)  # type: ignore[attr-defined]
        stream = client.stream(sessionId)  # type: ignore[attr-defined]
        payload = b"x" * 64
        for i in range(echoes):
            start = time.perf_counter()
            client._quic.send_stream_data(stream, payload)
            client.transmit()
            while len(client.received.get(stream, b"")) < (i + 1) * len(payload):  # type: ignore[attr-defined]
                await client.next()  # type: ignore[attr-defined]
            times["stream echo"].append(time.perf_counter() - start)
        for _ in range(echoes):
            start = time.perf_counter()
            client.http.send_datagram(sessionId, payload)  # type: ignore[attr-defined]
            client.transmit()
            while not isinstance(await client.next(), DatagramReceived):  # type: ignore[attr-defined]
                pass
            times["datagram echo"].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handshakes", type=int, default=200)
    parser.add_argument("--echoes", type=int, default=2000)
    args = parser.parse_args()
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        (root / "webtransport" / "handlers").mkdir(parents=True)
        (root / "webtransport" / "handlers" / "echo.py").write_text(ECHO)
        log = Path(tmp) / "twistd.log"
        process = subprocess.Popen(
            [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=",
             "--logfile", str(log), "pyhandlers", "--root", str(root), "--tls-dir", str(Path(tmp) / "tls"),
             "--listen", "webtransport-h3=udp:0:interface=127.0.0.1"],
            cwd=tmp, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, stdin=subprocess.DEVNULL,
        )
        try:
            port = 0
            for _ in range(600):
                found = re.search(r"serving https://\S+:(\d+) \(webtransport-h3\)", log.read_text() if log.exists() else "")
                if found:
                    port = int(found.group(1))
                    break
                time.sleep(0.05)
            if not port:
                raise SystemExit("the server did not start:\n" + (log.read_text() if log.exists() else ""))
            times = asyncio.run(measure(port, args.handshakes, args.echoes))
        finally:
            process.terminate()
            process.wait(30)
    print(f"{'':16}{'n':>6}{'median ms':>12}{'p90 ms':>10}{'per s':>9}")
    for name, values in times.items():
        values.sort()
        median = statistics.median(values)
        p90 = values[int(0.9 * (len(values) - 1))]
        print(f"{name:16}{len(values):>6}{median * 1000:>12.3f}{p90 * 1000:>10.3f}{len(values) / sum(values):>9.0f}")


if __name__ == "__main__":
    main()
