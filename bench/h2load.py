"""
Run ``h2load`` (nghttp2's HTTP/2 load generator, Debian's nghttp2-client)
and read its report, for the bench's HTTP/2 rows.

:func:`parseH2loadOutput` turns what h2load prints, and the per-request log
it writes with ``--log-file``, into the :class:`~bench.wrk.WrkResult` the
wrk rows use, so both kinds of row are combined, tabled and judged the same
way.  h2load prints no latency percentiles (only min, max, mean and sd), so
p50 and p99 are computed here from the log's per-request times.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.wrk import WrkResult

#: Where Debian installs h2load (package nghttp2-client).
H2LOAD = shutil.which("h2load") or "/usr/bin/h2load"

_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


class H2loadError(Exception):
    """h2load failed, or printed something this module cannot read."""


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(s|ms|us)", text)
    if not match:
        raise H2loadError(f"not an h2load time: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def percentile(sortedValues: list[float], fraction: float) -> float:
    """The nearest-rank percentile ``fraction`` (0..1) of a sorted, non-empty list."""
    index = max(0, min(len(sortedValues) - 1, math.ceil(fraction * len(sortedValues)) - 1))
    return sortedValues[index]


def parseH2loadOutput(text: str, log: str = "") -> WrkResult:
    """
    Parse what h2load printed and, if given, its ``--log-file`` (one line
    per request: start time in microseconds, status, microseconds to the
    end of the response, tab-separated).

    ``requests`` is h2load's ``done``; socket-level failures show as
    ``failed``, ``errored`` and ``timeout`` in ``socketErrors``; 4xx and
    5xx answers as ``non2xx`` (as wrk counts non-2xx/3xx).

    :raises H2loadError: when the summary lines are missing.
    """
    finished = re.search(r"^finished in (\S+), ([0-9.]+) req/s, (\S+)/s\s*$", text, re.MULTILINE)
    requests = re.search(
        r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored, (\d+) timeout\s*$",
        text,
        re.MULTILINE,
    )
    codes = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx\s*$", text, re.MULTILINE)
    traffic = re.search(r"^traffic: \S+ \((\d+)\) total", text, re.MULTILINE)
    if not (finished and requests and codes and traffic):
        raise H2loadError(f"h2load output without a summary:\n{text}")
    duration = _seconds(finished.group(1))
    bytesRead = int(traffic.group(1))
    times = sorted(
        int(fields[2]) / 1e6
        for fields in (line.split("\t") for line in log.splitlines() if line.strip())
        if len(fields) >= 3
    )
    percentiles = {p: percentile(times, p / 100) for p in (50, 75, 90, 99)} if times else {}
    return WrkResult(
        requests=int(requests.group(3)),
        duration=duration,
        bytesRead=bytesRead,
        requestsPerSecond=float(finished.group(2)),
        bytesPerSecond=bytesRead / duration if duration else 0.0,
        percentiles=percentiles,
        socketErrors={
            "failed": int(requests.group(5)),
            "errored": int(requests.group(6)),
            "timeout": int(requests.group(7)),
        },
        non2xx=int(codes.group(3)) + int(codes.group(4)),
    )


def h2loadCommand(
    url: str, *, connections: int, duration: float, streams: int = 1, threads: int = 1, logFile: str | None = None
) -> list[str]:
    """
    The h2load command line for one timed measurement: ``connections``
    HTTP/2 connections, ``streams`` requests in flight on each.
    """
    command = [
        H2LOAD,
        f"--clients={connections}",
        f"--threads={min(threads, connections)}",
        f"--max-concurrent-streams={streams}",
        f"--duration={max(1, round(duration))}",
    ]
    if logFile is not None:
        command.append(f"--log-file={logFile}")
    return command + [url]


def runH2load(
    url: str, *, connections: int, duration: float, streams: int = 1, threads: int = 1
) -> tuple[WrkResult, str]:
    """
    Run h2load against ``url`` and return the parsed result and its text.

    Runs in the bench's main thread and blocks for the run's duration.
    """
    with tempfile.TemporaryDirectory(prefix="h2load-") as directory:
        logPath = Path(directory) / "requests.tsv"
        command = h2loadCommand(
            url, connections=connections, duration=duration, streams=streams, threads=threads, logFile=str(logPath)
        )
        finished = subprocess.run(command, check=False, capture_output=True, text=True, timeout=duration + 60)
        if finished.returncode != 0:
            raise H2loadError(f"{' '.join(command)} exited {finished.returncode}:\n{finished.stdout}{finished.stderr}")
        log = logPath.read_text() if logPath.exists() else ""
    return parseH2loadOutput(finished.stdout, log), finished.stdout
