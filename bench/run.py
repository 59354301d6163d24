"""
The side-by-side benchmark (docs/performance.rst).

``python bench/run.py`` (with the project's Python, e.g.
``/tmp/venv/bin/python bench/run.py``) writes a temporary document root with
the bench handlers, starts wptserve 4.0.3, a plain twisted.web static
resource and twisted_pyhandlers (``twistd pyhandlers``) as separate processes
on free loopback ports, drives each with ``wrk`` in the same run, fetches a
1 GiB generator body while sampling our server's resident memory, times our
server's start to first answer, and prints a table of the measurements and
one of the targets of docs/performance.rst with PASS/FAIL against each.
The TLS rows compare wptserve's own https and h2 servers with our https and
h2 ports (``twistd pyhandlers --listen https=... --listen h2=...``): wrk
over TLS for https, ``h2load`` (nghttp2-client) for HTTP/2.

Exit status: 0 when every target passed, 1 when one or more failed (the
output says which, plainly), 2 when the bench itself could not run.
``--quick`` is a smoke run (about 40 s) whose figures are too short to quote.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

# ``python bench/run.py`` puts bench/ on sys.path; the modules import as ``bench.*``.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.docroot import (
    GIB_PIECE_SIZE,
    GIB_PIECES,
    NAME_HEADER,
    QUERY_STRING,
    SLEEP_SECONDS,
    STATIC_NAME,
    writeDocRoot,
)
from bench.h2load import H2LOAD, H2loadError, runH2load
from bench.rapidreset import FLOOD_RATE, RapidResetResult, measureRapidReset
from bench.servers import (
    ServerFailed,
    ServerProcess,
    ourServer,
    ourTLSServer,
    staticServer,
    wptserveServer,
)
from bench.wrk import WRK, WrkError, WrkResult, combineResults, runWrk
from twisted_pyhandlers._workers import autoWorkerCount

MIB = 1 << 20

#: The servers, in table order: ``ours-w2`` is ours with ``--workers 2``,
#: measured only in the scaling scenario (against ``ours``, one worker).
SERVERS = ("wptserve", "static", "ours", "ours-w2")

#: How the plain twisted.web server serves each scenario (printed with the table).
STATIC_KIND = {
    "tiny-keepalive": "static.Data",
    "query-header": "static.Data",
    "tiny-close": "static.Data",
    "mib": "static.Data",
    "static-file": "static.File",
}

#: The workers the scaling scenario compares with one.
SCALING_WORKERS = 2


@dataclass(frozen=True)
class Scenario:
    """
    One wrk measurement: which path each server is asked for, and how.

    ``paths`` maps a server name to its path; a server missing from it is
    not measured in this scenario (shown as ``n/a``).  ``scheme`` says which
    of a server's ports is measured (``http``, ``https`` or ``h2``: see
    :data:`PROCESSES`); ``h2`` scenarios are driven by h2load with
    ``streams`` requests in flight per connection, the others by wrk.
    """

    key: str
    title: str
    paths: dict[str, str]
    connections: int
    threads: int = 1
    headers: tuple[str, ...] = ()
    scheme: str = "http"
    streams: int = 1

    @property
    def tool(self) -> str:
        """The load generator: ``h2load`` for HTTP/2, ``wrk`` otherwise."""
        return "h2load" if self.scheme == "h2" else "wrk"


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "tiny-keepalive",
        "tiny handler, keep-alive, 10 conns",
        {"wptserve": "/tiny.py", "static": "/tiny", "ours": "/tiny.py"},
        connections=10,
    ),
    Scenario(
        "query-header",
        "query parameter + header handler, keep-alive, 10 conns",
        {
            "wptserve": f"/query.py?{QUERY_STRING}",
            "static": f"/tiny?{QUERY_STRING}",
            "ours": f"/query.py?{QUERY_STRING}",
        },
        connections=10,
        headers=(NAME_HEADER,),
    ),
    Scenario(
        "tiny-close",
        "tiny handler, Connection: close, 10 conns",
        {"wptserve": "/tiny.py", "static": "/tiny", "ours": "/tiny.py"},
        connections=10,
        headers=("Connection: close",),
    ),
    Scenario(
        "sleep",
        f"{int(SLEEP_SECONDS * 1000)} ms sleeping handler, 200 conns",
        {"wptserve": "/sleep.py", "ours": "/sleep.py"},
        connections=200,
        threads=2,
    ),
    Scenario(
        "mib",
        "1 MiB body, keep-alive, 10 conns",
        {"wptserve": "/mib.py", "static": "/mib", "ours": "/mib.py"},
        connections=10,
    ),
    Scenario(
        "static-file",
        f"static file ({STATIC_NAME}, 16 KiB), 10 conns",
        {
            "wptserve": f"/{STATIC_NAME}",
            "static": f"/{STATIC_NAME}",
            "ours": f"/{STATIC_NAME}",
        },
        connections=10,
    ),
    Scenario(
        "tiny-https",
        "tiny handler, https (HTTP/1.1 over TLS), keep-alive, 10 conns",
        {"wptserve": "/tiny.py", "ours": "/tiny.py"},
        connections=10,
        scheme="https",
    ),
    Scenario(
        "tiny-h2",
        "tiny handler, h2 (HTTP/2, h2load), 10 conns x 1 stream",
        {"wptserve": "/tiny.py", "ours": "/tiny.py"},
        connections=10,
        scheme="h2",
    ),
    Scenario(
        "workers",
        f"tiny handler, keep-alive, 32 conns: --workers 1 vs {SCALING_WORKERS}",
        {"ours": "/tiny.py", "ours-w2": "/tiny.py"},
        connections=32,
        threads=2,
    ),
)

#: Which process serves a server's scheme: wptserve runs one server per
#: scheme (as ``wpt serve`` does), ours one process with an https and an h2
#: port beside the plain one.
PROCESSES: dict[tuple[str, str], str] = {
    ("wptserve", "http"): "wptserve",
    ("static", "http"): "static",
    ("ours", "http"): "ours",
    ("ours-w2", "http"): "ours-w2",
    ("wptserve", "https"): "wptserve-https",
    ("wptserve", "h2"): "wptserve-h2",
    ("ours", "https"): "ours-tls",
    ("ours", "h2"): "ours-tls",
}

#: The ideal rate of the sleeping scenario: connections / sleep time.
SLEEP_IDEAL = 200 / SLEEP_SECONDS


@dataclass
class Measurement:
    """
    One server in one scenario: wrk's figures (over every round) and the
    CPU seconds the server process used meanwhile.
    """

    result: WrkResult
    cpuSeconds: float

    @property
    def cpuPerRequest(self) -> float | None:
        """Server CPU seconds per request answered."""
        return self.cpuSeconds / self.result.requests if self.result.requests else None


def cpuPerRequestOf(report: "Report", scenario: str, server: str) -> float | None:
    """``server``'s CPU per request in ``scenario``, None when not measured."""
    measurement = report.wrk.get(scenario, {}).get(server)
    return None if measurement is None else measurement.cpuPerRequest


@dataclass
class GibResult:
    """One fetch of the 1 GiB generator body, with the server's memory around it."""

    server: str
    status: str
    bytesReceived: int
    seconds: float
    rssBefore: int
    rssPeak: int
    rssAfter: int

    @property
    def growth(self) -> int:
        """Peak resident memory during the fetch minus the memory before it."""
        return self.rssPeak - self.rssBefore


@dataclass
class Target:
    """One target of docs/performance.rst: a measured ratio against a bound."""

    name: str
    value: float | None
    bound: float
    atLeast: bool
    unit: str
    note: str = ""

    @property
    def passed(self) -> bool:
        """True when measured and on the right side of the bound (strictly under, for upper bounds)."""
        if self.value is None:
            return False
        return self.value >= self.bound if self.atLeast else self.value < self.bound

    @property
    def verdict(self) -> str:
        """``PASS``, ``FAIL``, or ``NOT RUN`` when this run did not measure it (``--only``)."""
        if self.value is None:
            return "NOT RUN"
        return "PASS" if self.passed else "FAIL"

    def describe(self, value: float | None) -> str:
        """Format a value in this target's unit."""
        if value is None:
            return "not measured"
        if self.unit == "x":
            return f"{value:.2f}x"
        if self.unit == "%":
            return f"{value * 100:.0f}%"
        return f"{value:.2f} {self.unit}"


@dataclass
class Report:
    """Everything one run measured, for the tables and ``--json``."""

    wrk: dict[str, dict[str, Measurement]] = field(default_factory=dict)
    gib: dict[str, GibResult] = field(default_factory=dict)
    startTimes: list[float] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)
    rapidReset: dict[str, RapidResetResult] = field(default_factory=dict)


# -- measuring ---------------------------------------------------------------


class MemorySampler:
    """
    Samples a server's resident memory every ``interval`` seconds in its own
    thread and keeps the peak.
    """

    def __init__(self, server: ServerProcess, interval: float = 0.02) -> None:
        self.server = server
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        """Runs in the sampler thread until :meth:`stop`."""
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.server.rss())
            except (OSError, ServerFailed):
                return
            self._stop.wait(self.interval)

    def start(self) -> None:
        """Start sampling (bench main thread)."""
        self.peak = self.server.rss()
        self._thread.start()

    def stop(self) -> int:
        """Stop sampling and return the peak (bench main thread)."""
        self._stop.set()
        self._thread.join()
        return self.peak


def fetchGib(server: ServerProcess, limitRate: str | None) -> GibResult:
    """
    Fetch ``/gib.py`` once with curl into /dev/null while sampling the
    server's resident memory; ``limitRate`` is curl's ``--limit-rate``
    (e.g. ``200M``), ``None`` for as fast as curl reads.

    Runs in the bench's main thread.
    """
    time.sleep(0.5)  # let the previous scenario's buffers drain
    before = server.rss()
    sampler = MemorySampler(server)
    sampler.start()
    command = [
        "curl",
        "--silent",
        "--show-error",
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code} %{size_download} %{time_total}",
    ]
    if limitRate:
        command += ["--limit-rate", limitRate]
    started = time.monotonic()
    try:
        finished = subprocess.run(
            command + [server.url("/gib.py")],
            check=False,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        elapsed = time.monotonic() - started
        time.sleep(0.5)
        peak = sampler.stop()
    after = server.rss()
    try:
        code, size, _ = finished.stdout.split()
        received = int(size)
    except ValueError:
        code, received = f"curl failed: {finished.stderr.strip()}", 0
    return GibResult(server.name, code, received, elapsed, before, max(peak, after), after)


def measureStart(root: Path, logDir: Path, tries: int, threads: int | None) -> list[float]:
    """
    Start our server ``tries`` times, each time timing spawn to the first
    200 for ``/tiny.py``, and stop it again.

    Runs in the bench's main thread.
    """
    times = []
    for attempt in range(tries):
        with ourServer(root, logDir / f"ours-start-{attempt}.log", threads=threads) as server:
            server.start()
            times.append(server.waitReady("/tiny.py", interval=0.005))
    return times


def load(server: ServerProcess, scenario: Scenario, path: str, duration: float) -> WrkResult:
    """
    One timed run of ``scenario``'s load generator against ``path`` on
    ``server``'s port for the scenario's scheme.

    Runs in the bench's main thread and blocks for ``duration``.
    """
    url = server.url(path, scenario.scheme)
    if scenario.tool == "h2load":
        result, _ = runH2load(
            url,
            connections=scenario.connections,
            streams=scenario.streams,
            threads=scenario.threads,
            duration=duration,
        )
    else:
        result, _ = runWrk(
            url,
            connections=scenario.connections,
            threads=scenario.threads,
            duration=duration,
            headers=scenario.headers,
        )
    return result


def warmUp(server: ServerProcess, scenario: Scenario, path: str, seconds: float) -> None:
    """
    Prime a server for a scenario (code caches, threads, JIT-less Python's
    first-call costs, TLS sessions): a short run whose figures are thrown
    away.
    """
    if seconds > 0:
        load(server, scenario, path, seconds)


# -- reporting ---------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def _us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:.0f} us"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _rate(report: Report, scenario: str, server: str, attr: str = "requestsPerSecond") -> float | None:
    measurement = report.wrk.get(scenario, {}).get(server)
    return None if measurement is None else float(getattr(measurement.result, attr))


def _oursOver(report: Report, scenario: str, other: str, attr: str = "requestsPerSecond") -> float | None:
    """Our figure over ``other``'s in ``scenario`` (None when either is missing)."""
    return _ratio(_rate(report, scenario, "ours", attr), _rate(report, scenario, other, attr))


def computeTargets(report: Report) -> list[Target]:
    """The targets of docs/performance.rst, each from this run's figures."""
    gib = report.gib.get("ours")
    gibGrowth = None
    if gib is not None and gib.bytesReceived == GIB_PIECES * GIB_PIECE_SIZE:
        gibGrowth = gib.growth / MIB
    start = statistics.median(report.startTimes) if report.startTimes else None
    flooded = report.rapidReset.get("ours")
    floodedP99 = None if flooded is None else max((r.p99 or 0.0) for r in flooded.ordinary.values())
    floodedErrors = None if flooded is None else float(sum(r.errors for r in flooded.ordinary.values()))
    return [
        Target(
            "tiny keep-alive: ours / wptserve",
            _oursOver(report, "tiny-keepalive", "wptserve"),
            10,
            True,
            "x",
        ),
        Target(
            "tiny keep-alive: ours / static.Data",
            _oursOver(report, "tiny-keepalive", "static"),
            0.5,
            True,
            "x",
            "neither logs" if not report.settings.get("accessLog") else "both log",
        ),
        Target(
            "query + header handler: ours / static.Data",
            _oursOver(report, "query-header", "static"),
            0.45,
            True,
            "x",
        ),
        Target(
            "tiny keep-alive: ours / static.Data CPU per request",
            _ratio(cpuPerRequestOf(report, "tiny-keepalive", "ours"), cpuPerRequestOf(report, "tiny-keepalive", "static")),
            2.5,
            False,
            "x",
        ),
        Target(
            f"32 conns: --workers {SCALING_WORKERS} / --workers 1",
            _ratio(_rate(report, "workers", "ours-w2"), _rate(report, "workers", "ours")),
            1.3,
            True,
            "x",
            f"--workers auto would pick {autoWorkerCount()}",
        ),
        Target(
            "tiny Connection: close: ours / wptserve",
            _oursOver(report, "tiny-close", "wptserve"),
            3,
            True,
            "x",
        ),
        Target(
            "tiny https: ours / wptserve https",
            _oursOver(report, "tiny-https", "wptserve"),
            5,
            True,
            "x",
        ),
        Target(
            "tiny h2: ours / wptserve h2",
            _oursOver(report, "tiny-h2", "wptserve"),
            5,
            True,
            "x",
        ),
        Target(
            "tiny h2 / tiny https: ours, CPU per request",
            _ratio(cpuPerRequestOf(report, "tiny-h2", "ours"), cpuPerRequestOf(report, "tiny-https", "ours")),
            2,
            False,
            "x",
            "one process serves both ports",
        ),
        Target(
            "sleeping handler: ours / ideal (2000 req/s)",
            _ratio(_rate(report, "sleep", "ours"), SLEEP_IDEAL),
            0.8,
            True,
            "%",
        ),
        Target(
            "1 MiB body: ours / wptserve throughput",
            _oursOver(report, "mib", "wptserve", "bytesPerSecond"),
            1.5,
            True,
            "x",
        ),
        Target(
            "1 GiB generator: ours RSS growth",
            gibGrowth,
            64,
            False,
            "MiB",
            "" if gib is None else f"peak - before; {gib.status}, {gib.bytesReceived} bytes",
        ),
        Target(
            "Rapid Reset flood: ordinary client's p99 (ours: h2, http, https)",
            floodedP99,
            0.05,
            False,
            "s",
        ),
        Target(
            "Rapid Reset flood: ordinary client's failed requests (ours)",
            floodedErrors,
            1,
            False,
            "",
        ),
        Target(
            "start to first answer (median)",
            start,
            1.0,
            False,
            "s",
            ", ".join(f"{t:.2f}" for t in report.startTimes),
        ),
    ]


def formatTable(rows: list[list[str]], header: list[str]) -> str:
    """Plain-text table with aligned columns (numbers right-aligned)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = []

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            numeric = i > 1 and cell[:1].isdigit()
            out.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines.append(line(header))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(line(row) for row in rows)
    return "\n".join(lines)


def errorCell(result: WrkResult) -> str:
    """wrk's error counts by kind (``read 12, non2xx 3``), ``0`` when none."""
    kinds = {kind: count for kind, count in result.socketErrors.items() if count}
    if result.non2xx:
        kinds["non2xx"] = result.non2xx
    return ", ".join(f"{kind} {count}" for kind, count in kinds.items()) or "0"


def measurementTable(report: Report) -> str:
    """The per-scenario, per-server table: req/s, p50, p99, MB/s, errors, ratios."""
    rows: list[list[str]] = []
    for scenario in SCENARIOS:
        results = report.wrk.get(scenario.key)
        if not results:
            continue
        first = True
        for server in SERVERS:
            measurement = results.get(server)
            name = SERVER_NAMES.get(server, server)
            if server == "static":
                name = f"static ({STATIC_KIND.get(scenario.key, '-')})"
            if measurement is None:
                if server == "ours-w2" or scenario.key == "workers":
                    continue  # the scaling scenario's own servers, and only those
                rows.append(
                    [
                        scenario.title if first else "",
                        name,
                        "n/a",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                    ]
                )
                first = False
                continue
            result = measurement.result
            note = ""
            if server == "ours-w2" and "ours" in results:
                note = f"{result.requestsPerSecond / results['ours'].result.requestsPerSecond:.2f}x --workers 1"
            elif server == "ours":
                parts = []
                for other in ("wptserve", "static"):
                    if other in results:
                        parts.append(
                            f"{result.requestsPerSecond / results[other].result.requestsPerSecond:.2f}x {other}"
                        )
                if scenario.key == "sleep":
                    parts.append(f"{result.requestsPerSecond / SLEEP_IDEAL:.0%} of ideal")
                note = ", ".join(parts)
            elif scenario.key == "sleep":
                note = f"{result.requestsPerSecond / SLEEP_IDEAL:.0%} of ideal"
            rows.append(
                [
                    scenario.title if first else "",
                    name,
                    f"{result.requestsPerSecond:.0f}",
                    _ms(result.p50),
                    _ms(result.p99),
                    f"{result.bytesPerSecond / 1e6:.1f}",
                    _us(measurement.cpuPerRequest),
                    errorCell(result),
                    note,
                ]
            )
            first = False
    for server in SERVERS:
        gib = report.gib.get(server)
        if gib is None:
            continue
        rows.append(
            [
                "1 GiB generator, one curl",
                server,
                "",
                f"{gib.seconds:.1f} s",
                "",
                f"{gib.bytesReceived / gib.seconds / 1e6:.1f}" if gib.seconds else "",
                "",
                "0" if gib.bytesReceived == GIB_PIECES * GIB_PIECE_SIZE else "short",
                f"RSS {gib.rssBefore / MIB:.0f} -> peak {gib.rssPeak / MIB:.0f} -> after {gib.rssAfter / MIB:.0f} MiB",
            ]
        )
    for name, flooded in report.rapidReset.items():
        for label, measured in flooded.ordinary.items():
            rows.append(
                [
                    f"rapid-reset: ordinary client, {label}",
                    name,
                    f"{measured.requestsPerSecond:.0f}",
                    _ms(measured.p50),
                    _ms(measured.p99),
                    "",
                    "",
                    errorCell(measured),
                    f"flood: {flooded.flood.streams} streams, {flooded.flood.connections} conns, GOAWAYs {flooded.flood.goaways}",
                ]
            )
    if report.startTimes:
        rows.append(
            [
                "start to first answer",
                "ours",
                "",
                f"{statistics.median(report.startTimes):.2f} s",
                "",
                "",
                "",
                "",
                "tries: " + ", ".join(f"{t:.2f} s" for t in report.startTimes),
            ]
        )
    return formatTable(
        rows,
        [
            "scenario",
            "server",
            "req/s",
            "p50",
            "p99",
            "MB/s",
            "CPU/req",
            "errors",
            "ratios / notes",
        ],
    )


#: How the tables and the chart name each server.
SERVER_NAMES = {"ours": "ours", "ours-w2": f"ours --workers {SCALING_WORKERS}"}


def targetTable(targets: list[Target]) -> str:
    """The docs/performance.rst targets with PASS/FAIL."""
    rows = []
    for target in targets:
        bound = ("<" if not target.atLeast else ">=") + " " + target.describe(target.bound)
        rows.append(
            [
                target.name,
                target.describe(target.value),
                bound,
                target.verdict,
                target.note,
            ]
        )
    return formatTable(rows, ["target (docs/performance.rst)", "measured", "needed", "result", "notes"])


def reportJson(report: Report, targets: list[Target]) -> dict[str, object]:
    """The run as JSON-able data (``--json``)."""
    return {
        "settings": report.settings,
        "wrk": {
            scenario: {server: asdict(m) | {"cpuPerRequest": m.cpuPerRequest} for server, m in results.items()}
            for scenario, results in report.wrk.items()
        },
        "gib": {server: asdict(result) | {"growth": result.growth} for server, result in report.gib.items()},
        "startTimes": report.startTimes,
        "rapidReset": {server: asdict(result) for server, result in report.rapidReset.items()},
        "targets": [asdict(target) | {"passed": target.passed} for target in targets],
    }


# -- the chart ---------------------------------------------------------------


def drawChart(report: Report, path: Path, quick: bool = False) -> None:
    """
    Draw req/s per scenario (groups) and server (bars) as a PNG at
    ``path``, on a log scale (the scenarios span three orders of
    magnitude), each bar labelled with its figure.  Bench main thread.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    scenarios = [scenario for scenario in SCENARIOS if report.wrk.get(scenario.key)]
    servers = [server for server in SERVERS if any(server in report.wrk[s.key] for s in scenarios)]
    figure, axes = pyplot.subplots(figsize=(11, 5.5), dpi=100)
    width = 0.8 / max(1, len(servers))
    for index, server in enumerate(servers):
        xs, ys = [], []
        for position, scenario in enumerate(scenarios):
            measurement = report.wrk[scenario.key].get(server)
            if measurement is not None:
                xs.append(position + (index - (len(servers) - 1) / 2) * width)
                ys.append(measurement.result.requestsPerSecond)
        bars = axes.bar(xs, ys, width, label=SERVER_NAMES.get(server, server))
        axes.bar_label(bars, labels=[f"{y:.0f}" for y in ys], fontsize=7, rotation=90, padding=2)
    axes.set_yscale("log")
    axes.set_ylabel("requests per second (log scale)")
    axes.set_xticks(range(len(scenarios)))
    axes.set_xticklabels([scenario.key for scenario in scenarios], rotation=15)
    logNote = "both write an access log" if report.settings.get("accessLog") else "no access log on either side"
    title = f"twisted_pyhandlers bench: {os.cpu_count()} CPUs, {logNote}"
    if quick:
        title += " [QUICK: smoke figures]"
    axes.set_title(title)
    axes.legend(fontsize=8)
    axes.margins(y=0.25)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    pyplot.close(figure)


# -- the run -----------------------------------------------------------------


def parseArguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2 s per scenario, no warm-up runs, 1 GiB fetch from ours only, one start",
    )
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 5, quick 2)")
    parser.add_argument(
        "--rounds",
        type=int,
        help="wrk runs per server and scenario, interleaved across servers (default 2, quick 1)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        help="seconds of discarded wrk warm-up per server and scenario (default 1, quick 0)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="pass --threads N to our server (default: its own default)",
    )
    parser.add_argument(
        "--gib-rate",
        default="200M",
        help="curl --limit-rate for the 1 GiB fetch ('' for unlimited; default 200M)",
    )
    parser.add_argument(
        "--gib-servers",
        help="comma-separated servers to fetch 1 GiB from (default wptserve,ours; quick: ours)",
    )
    parser.add_argument(
        "--start-tries",
        type=int,
        help="times to measure start to first answer (default 3, quick 1)",
    )
    parser.add_argument(
        "--only",
        help="comma-separated scenario keys to run: " + ",".join(s.key for s in SCENARIOS) + ",gib,start,rapid-reset",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="both static and ours write an access log file (default: neither does)",
    )
    parser.add_argument(
        "--chart",
        type=Path,
        help="draw req/s per scenario and server to this PNG (docs/_static/bench.png for the docs)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary directory (doc root, server logs)",
    )
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 2.0 if args.quick else 5.0
    if args.rounds is None:
        args.rounds = 1 if args.quick else 2
    if args.warmup is None:
        args.warmup = 0.0 if args.quick else 1.0
    if args.start_tries is None:
        args.start_tries = 1 if args.quick else 3
    if args.gib_servers is None:
        args.gib_servers = "ours" if args.quick else "wptserve,ours"
    return args


def progress(message: str) -> None:
    """One progress line on stderr, so stdout holds only the tables."""
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


def _selected(args: argparse.Namespace) -> set[str]:
    every = {s.key for s in SCENARIOS} | {"gib", "start", "rapid-reset"}
    if not args.only:
        return every
    chosen = {key.strip() for key in args.only.split(",") if key.strip()}
    unknown = chosen - every
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return chosen


def runBench(args: argparse.Namespace, workDir: Path) -> Report:
    """
    Start the servers the selected scenarios need, run those scenarios, stop
    the servers.

    Runs in the bench's main thread; every server is stopped on the way out,
    whatever happens (errors, Ctrl-C).
    """
    selected = _selected(args)
    root = writeDocRoot(workDir / "root")
    report = Report(
        settings={
            "duration": args.duration,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "threads": args.threads,
            "gibRate": args.gib_rate or None,
            "wrk": WRK,
            "h2load": H2LOAD,
            "python": sys.version.split()[0],
            "accessLog": args.access_log,
        }
    )

    def accessLog(name: str) -> Path | None:
        return workDir / f"{name}.access.log" if args.access_log else None

    makers: dict[str, Callable[[], ServerProcess]] = {
        "wptserve": lambda: wptserveServer(root, workDir / "wptserve.log"),
        "static": lambda: staticServer(root, workDir / "static.log", accessLog=accessLog("static")),
        "ours": lambda: ourServer(root, workDir / "ours.log", threads=args.threads, accessLog=accessLog("ours")),
        "ours-w2": lambda: ourServer(
            root,
            workDir / "ours-w2.log",
            threads=args.threads,
            workers=SCALING_WORKERS,
            accessLog=accessLog("ours-w2"),
        ),
        "wptserve-https": lambda: wptserveServer(
            root, workDir / "wptserve-https.log", scheme="https", tlsDir=workDir / "tls-wptserve"
        ),
        "wptserve-h2": lambda: wptserveServer(
            root, workDir / "wptserve-h2.log", scheme="h2", tlsDir=workDir / "tls-wptserve"
        ),
        "ours-tls": lambda: ourTLSServer(root, workDir / "ours-tls.log", workDir / "tls-ours", threads=args.threads),
    }
    readyPath = {"static": "/tiny"}
    servers: dict[str, ServerProcess] = {}
    try:
        # The servers the selected scenarios need run side by side while
        # the load scenarios run.
        needed = {
            PROCESSES[(name, scenario.scheme)]
            for scenario in SCENARIOS
            if scenario.key in selected
            for name in scenario.paths
        }
        for key in makers:
            if key in needed:
                servers[key] = makers[key]()
                servers[key].start()
        for key, server in servers.items():
            seconds = server.waitReady(readyPath.get(key, "/tiny.py"))
            ports = ", ".join(f"{scheme} {port}" for scheme, port in server.ports.items())
            progress(f"{key} answers on {ports} (pid {server.pid}) after {seconds:.2f} s")

        for scenario in SCENARIOS:
            if scenario.key not in selected:
                continue
            names = [name for name in SERVERS if name in scenario.paths]
            runs: dict[str, list[WrkResult]] = {name: [] for name in names}
            cpu: dict[str, float] = dict.fromkeys(names, 0.0)
            processes = {name: servers[PROCESSES[(name, scenario.scheme)]] for name in names}
            for name in names:
                warmUp(processes[name], scenario, scenario.paths[name], args.warmup)
            # Rounds interleave the servers, so a burst of other work on the
            # machine is less likely to fall on one server only.
            for round in range(args.rounds):
                for name in names:
                    server = processes[name]
                    progress(
                        f"{scenario.key}: {name} {scenario.paths[name]} ({scenario.tool}, {scenario.connections} conns, {args.duration:g} s, round {round + 1}/{args.rounds})"
                    )
                    before = server.cpu()
                    result = load(server, scenario, scenario.paths[name], args.duration)
                    cpu[name] += server.cpu() - before
                    runs[name].append(result)
                    progress(
                        f"  {result.requestsPerSecond:.0f} req/s, p50 {_ms(result.p50)}, p99 {_ms(result.p99)}, errors {result.errors}"
                    )
            report.wrk[scenario.key] = {name: Measurement(combineResults(runs[name]), cpu[name]) for name in names}

    finally:
        for server in servers.values():
            server.stop()

    if "gib" in selected:
        # A fresh server for the 1 GiB fetch: memory the earlier scenarios
        # left in the allocator could otherwise hide growth.
        for name in [n.strip() for n in args.gib_servers.split(",") if n.strip()]:
            if name not in ("wptserve", "ours"):
                raise SystemExit(f"--gib-servers: no 1 GiB handler on {name!r}")
            with makers[name]() as server:
                server.start()
                server.waitReady("/tiny.py")
                progress(f"gib: one curl fetch of 1 GiB from a fresh {name} (limit {args.gib_rate or 'none'})")
                gib = fetchGib(server, args.gib_rate or None)
            report.gib[name] = gib
            progress(
                f"  {gib.status}, {gib.bytesReceived} bytes in {gib.seconds:.1f} s, RSS growth {gib.growth / MIB:.1f} MiB"
            )

    if "rapid-reset" in selected:
        # Fresh servers: the flood leaves threads behind on wptserve.
        flooded: dict[str, Callable[[], ServerProcess]] = {
            "wptserve": makers["wptserve-h2"],
            # Our h2, https and plain http ports in one process.
            "ours": lambda: ourTLSServer(
                root, workDir / "ours-flooded.log", workDir / "tls-ours", threads=args.threads, plain=True
            ),
        }
        for name, make in flooded.items():
            with make() as server:
                server.start()
                server.waitReady("/tiny.py")
                progress(
                    f"rapid-reset: {name} flooded from 127.0.0.2 ({FLOOD_RATE} streams/s at most) while an "
                    f"ordinary client asks its {', '.join(server.ports)} ports, {args.duration:g} s each"
                )
                result = measureRapidReset(server, args.duration, workDir / f"flood-{name}.log")
            report.rapidReset[name] = result
            for label, measured in result.ordinary.items():
                progress(
                    f"  {label}: {measured.requestsPerSecond:.0f} req/s, p99 {_ms(measured.p99)}, errors {measured.errors}"
                )
            progress(
                f"  flood: {result.flood.streams} streams on {result.flood.connections} connections, GOAWAYs {result.flood.goaways}"
            )

    if "start" in selected:
        progress(f"start: timing spawn to first 200, {args.start_tries} time(s)")
        report.startTimes = measureStart(root, workDir, args.start_tries, args.threads)
    return report


def _terminateOnSignal(signum: int, frame: object) -> None:
    """SIGINT/SIGTERM/SIGHUP end the run as Ctrl-C does, so the servers are stopped."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print the tables; see the module docstring for the exit status."""
    args = parseArguments(argv)
    for tool in ("curl",):
        if shutil.which(tool) is None:
            progress(f"{tool} is not installed")
            return 2
    for module in ("twisted", "wptserve", "twisted_pyhandlers"):
        if importlib.util.find_spec(module) is None:
            progress(f"{module} is not importable by {sys.executable}: run the bench with the project's Python")
            return 2
    if not os.path.exists(WRK):
        progress(f"wrk is not installed ({WRK})")
        return 2
    needsH2load = any(s.tool == "h2load" and s.key in _selected(args) for s in SCENARIOS) or "rapid-reset" in _selected(args)
    if needsH2load and not os.path.exists(H2LOAD):
        progress(f"h2load is not installed ({H2LOAD}; Debian's nghttp2-client)")
        return 2
    # SIGINT too: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, _terminateOnSignal)
    signal.signal(signal.SIGTERM, _terminateOnSignal)
    signal.signal(signal.SIGHUP, _terminateOnSignal)
    workDir = Path(tempfile.mkdtemp(prefix="pyhandlers-bench-"))
    try:
        report = runBench(args, workDir)
    except (ServerFailed, WrkError, H2loadError) as error:
        progress(f"the bench could not run: {error}")
        return 2
    except KeyboardInterrupt:
        progress("interrupted; servers stopped")
        return 2
    finally:
        if args.keep:
            progress(f"kept {workDir}")
        else:
            shutil.rmtree(workDir, ignore_errors=True)

    targets = computeTargets(report)
    if args.chart:
        drawChart(report, args.chart, quick=args.quick)
        progress(f"chart written to {args.chart}")
    print(
        f"twisted_pyhandlers bench: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"wrk {args.rounds} x {args.duration:g} s per server and scenario ({args.warmup:g} s warm-up){' [QUICK: smoke figures only]' if args.quick else ''}"
    )
    print(
        "https rows: wrk over TLS against wptserve's https server and our https port; "
        "h2 rows: h2load against wptserve's h2 server and our h2 port (p50/p99 from h2load's request log)"
    )
    print("static = plain twisted.web: static.Data for the tiny and 1 MiB bodies, static.File for the static file")
    if args.access_log:
        print("access log: BOTH static and ours write one line per request to a file")
    else:
        print("access log: NEITHER static (a Site whose log does nothing) nor ours (no --access-log) writes one")
    print(f"--workers auto would pick {autoWorkerCount()} workers on this machine (the CPUs this process may run on)")
    print("CPU/req = server process CPU time (user+system, all threads) over the runs / requests answered")
    print(
        "errors = wrk's socket errors and non-2xx/3xx answers; 'read' errors alone are a server closing the connection"
    )
    print("         without a 'Connection: close' header (wrk counts the close, then reconnects; the answer was whole)")
    print()
    print(measurementTable(report))
    print()
    print(targetTable(targets))
    print()
    failed = [target for target in targets if target.verdict == "FAIL"]
    notRun = [target for target in targets if target.verdict == "NOT RUN"]
    if notRun:
        print(
            f"{len(notRun)} of {len(targets)} targets NOT RUN (not measured by this run): "
            + "; ".join(t.name for t in notRun)
        )
    if args.json:
        args.json.write_text(json.dumps(reportJson(report, targets), indent=2, sort_keys=True) + "\n")
    if failed:
        print(
            f"{len(failed)} of {len(targets)} targets FAILED: "
            + "; ".join(
                f"{t.name} = {t.describe(t.value)}, needed {'>=' if t.atLeast else '<'} {t.describe(t.bound)}"
                for t in failed
            )
        )
        return 1
    print(f"all {len(targets) - len(notRun)} measured targets passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
