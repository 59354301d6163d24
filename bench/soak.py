"""
The soak: many mixed requests against one ``twistd pyhandlers`` process,
checking every answer, to show the server stays correct and its memory flat
over a long run.

    python -m bench.soak [--requests 100000] [--clients 16] [--json out.json]

The mix, per client, in a fixed rotation: the tiny handler, the static
file, a stash put followed by a take of the same key (a lost or wrong
value is counted), a streaming handler that writes its body in 32 pieces
through ``response.writer``, and now and then a runaway handler that never
returns (answered 504 by ``--handler-timeout``, its thread replaced).
Every answer's status and body are checked; anything else is an error.

The server's resident memory is sampled as the run goes; after the
warm-up (the first fifth of the requests) it must stay within 10% of what
it was at the end of the warm-up.  The report (printed, and written as
JSON with ``--json``) says PASS only with zero errors, zero lost stash
values and flat memory.  It is CPU-heavy: not part of the test suite
(``tests/test_bench_smoke.py`` runs a small one).
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.docroot import STATIC_BODY, STATIC_NAME, TINY_BODY, writeDocRoot
from bench.servers import ourServer

#: The streaming handler's pieces.
STREAM_PIECE = b"0123456789abcdef" * 64
STREAM_PIECES = 32

#: --handler-timeout of the soaked server, in seconds.
HANDLER_TIMEOUT = 2.0

SOAK_HANDLERS = {
    "stash.py": (
        "def main(request, response):\n"
        "    key = request.GET.first(b'id').decode('ascii')\n"
        "    if request.GET.first(b'action') == b'put':\n"
        "        request.server.stash.put(key, request.GET.first(b'value').decode('ascii'))\n"
        "        return 'stored'\n"
        "    value = request.server.stash.take(key)\n"
        "    return 'MISSING' if value is None else value\n"
    ),
    "stream.py": (
        f"PIECE = {STREAM_PIECE!r}\n"
        f"PIECES = {STREAM_PIECES}\n"
        "def main(request, response):\n"
        "    writer = response.writer\n"
        "    writer.write_status(200)\n"
        "    writer.write_header('Content-Type', 'application/octet-stream')\n"
        "    writer.write_header('Content-Length', str(PIECES * len(PIECE)))\n"
        "    writer.end_headers()\n"
        "    for _ in range(PIECES):\n"
        "        writer.write(PIECE)\n"
    ),
    "runaway.py": (
        "import time\n"
        "def main(request, response):\n"
        "    while True:\n"
        "        time.sleep(0.05)\n"
    ),
}


@dataclass
class SoakReport:
    """What a soak run found."""

    requests: int = 0
    errors: int = 0
    lostStashValues: int = 0
    runaways: int = 0
    runawaysAnswered504: int = 0
    seconds: float = 0.0
    rssAfterWarmup: int = 0
    rssMax: int = 0
    rssEnd: int = 0
    rssSamples: list = field(default_factory=list)
    errorSamples: list = field(default_factory=list)

    @property
    def memoryGrowth(self) -> float:
        """The largest resident memory after the warm-up, over that at its end, minus one."""
        if not self.rssAfterWarmup:
            return 0.0
        return self.rssMax / self.rssAfterWarmup - 1

    @property
    def passed(self) -> bool:
        """Zero errors, zero lost stash values, every runaway answered 504, memory flat within 10%."""
        return (
            self.errors == 0
            and self.lostStashValues == 0
            and self.runaways == self.runawaysAnswered504
            and self.memoryGrowth <= 0.10
        )


class _Client:
    """One client thread's keep-alive connection and its share of the mix."""

    def __init__(self, port: int, report: SoakReport, lock: threading.Lock) -> None:
        self.port = port
        self.report = report
        self.lock = lock
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, path: str) -> tuple:
        """GET ``path``: status and body; the connection is reopened if the server closed it."""
        for attempt in (0, 1):
            try:
                self.connection.request("GET", path)
                answer = self.connection.getresponse()
                body = answer.read()
                if answer.will_close:
                    self.connection.close()
                return answer.status, body
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def error(self, what: str) -> None:
        with self.lock:
            self.report.errors += 1
            if len(self.report.errorSamples) < 20:
                self.report.errorSamples.append(what)

    def one(self, step: int, runawayEvery: int) -> int:
        """Make request ``step`` of the mix; return how many requests it made."""
        try:
            if runawayEvery and step % runawayEvery == runawayEvery - 1:
                with self.lock:
                    self.report.runaways += 1
                status, body = self.get("/runaway.py")
                if status == 504 and b"runaway.py did not finish" in body:
                    with self.lock:
                        self.report.runawaysAnswered504 += 1
                else:
                    self.error(f"runaway: {status} {body[:100]!r}")
                return 1
            kind = step % 5
            if kind in (0, 1):
                status, body = self.get("/tiny.py")
                if (status, body) != (200, TINY_BODY):
                    self.error(f"tiny: {status} {body[:100]!r}")
                return 1
            if kind == 2:
                status, body = self.get(f"/{STATIC_NAME}")
                if (status, body) != (200, STATIC_BODY):
                    self.error(f"static: {status} {len(body)} bytes")
                return 1
            if kind == 3:
                key, value = str(uuid.uuid4()), uuid.uuid4().hex
                status, body = self.get(f"/stash.py?action=put&id={key}&value={value}")
                if (status, body) != (200, b"stored"):
                    self.error(f"stash put: {status} {body[:100]!r}")
                    return 1
                status, body = self.get(f"/stash.py?action=take&id={key}")
                if (status, body) != (200, value.encode("ascii")):
                    with self.lock:
                        self.report.lostStashValues += 1
                    self.error(f"stash take: {status} {body[:100]!r}")
                return 2
            status, body = self.get("/stream.py")
            if (status, body) != (200, STREAM_PIECE * STREAM_PIECES):
                self.error(f"stream: {status} {len(body)} bytes")
            return 1
        except (OSError, http.client.HTTPException) as e:
            self.error(f"{type(e).__name__}: {e}")
            self.connection.close()
            return 1


def runSoak(
    requests: int = 100_000,
    clients: int = 16,
    runawayEvery: int = 3_000,
    workdir: Path | None = None,
    progress: bool = False,
) -> SoakReport:
    """
    Soak a fresh server with about ``requests`` requests from ``clients``
    threads (a runaway handler every ``runawayEvery`` steps of a client;
    0 for none).  Main thread.
    """
    report = SoakReport()
    lock = threading.Lock()
    with tempfile.TemporaryDirectory() as scratch:
        base = workdir or Path(scratch)
        root = writeDocRoot(base / "soak-root")
        for name, source in SOAK_HANDLERS.items():
            (root / name).write_text(source)
        server = ourServer(
            root, base / "soak-server.log", threads=32, options=("--handler-timeout", f"{HANDLER_TIMEOUT:g}")
        )
        with server:
            server.start()
            server.waitReady("/tiny.py")
            done = [0]
            warmup = requests // 5
            perClient = requests // clients

            def work() -> None:
                client = _Client(server.port, report, lock)
                made = step = 0
                while made < perClient:
                    made += client.one(step, runawayEvery)
                    step += 1
                with lock:
                    done[0] += made
                client.connection.close()

            begun = time.monotonic()
            threads = [threading.Thread(target=work, name=f"soak-{n}") for n in range(clients)]
            for thread in threads:
                thread.start()
            while any(thread.is_alive() for thread in threads):
                time.sleep(1.0)
                rss = server.rss()
                elapsed = time.monotonic() - begun
                report.rssSamples.append((round(elapsed, 1), rss))
                if progress:
                    print(f"  {elapsed:6.1f} s  RSS {rss / 2**20:6.1f} MiB  errors {report.errors}", flush=True)
            for thread in threads:
                thread.join()
            report.seconds = time.monotonic() - begun
            report.requests = done[0]
            report.rssEnd = server.rss()
    # Memory after the warm-up: the samples past the first fifth of the run.
    samples = [rss for _, rss in report.rssSamples]
    if samples:
        cut = max(1, len(samples) * warmup // max(requests, 1))
        report.rssAfterWarmup = samples[min(cut, len(samples) - 1)]
        report.rssMax = max(samples[min(cut, len(samples) - 1):] + [report.rssEnd])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--runaway-every", type=int, default=3_000)
    parser.add_argument("--json", type=Path, default=None)
    arguments = parser.parse_args(argv)
    report = runSoak(arguments.requests, arguments.clients, arguments.runaway_every, progress=True)
    summary = {
        **asdict(report),
        "memoryGrowth": round(report.memoryGrowth, 4),
        "passed": report.passed,
        "requestsPerSecond": round(report.requests / report.seconds, 1) if report.seconds else 0,
    }
    del summary["rssSamples"]
    print(json.dumps(summary, indent=2))
    if arguments.json is not None:
        arguments.json.write_text(json.dumps({**summary, "rssSamples": report.rssSamples}, indent=2))
    print("PASS" if report.passed else "FAIL")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
