"""
Run ``wrk`` and read its report.

:func:`parseWrkOutput` turns the text wrk prints with ``--latency`` into a
:class:`WrkResult`; :func:`runWrk` runs wrk and parses what it printed.
wrk's units are binary for sizes (``KB`` = 1024 bytes, as its
``format_binary`` prints them) and ``us``/``ms``/``s``/``m``/``h`` for times.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass, field

#: Where Debian installs wrk.
WRK = shutil.which("wrk") or "/usr/bin/wrk"

_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}

_NUMBER_UNIT = r"([0-9.]+)\s*([A-Za-z]*)"


class WrkError(Exception):
    """wrk failed, or printed something this module cannot read."""


@dataclass
class WrkResult:
    """
    What one wrk run measured.

    Times are seconds, sizes bytes.  ``percentiles`` maps 50, 75, 90, 99 to
    the latency wrk reported for it.
    """

    requests: int
    duration: float
    bytesRead: int
    requestsPerSecond: float
    bytesPerSecond: float
    percentiles: dict[int, float] = field(default_factory=dict)
    socketErrors: dict[str, int] = field(default_factory=dict)
    non2xx: int = 0

    @property
    def p50(self) -> float | None:
        """The median latency, in seconds (``None`` if wrk gave none)."""
        return self.percentiles.get(50)

    @property
    def p99(self) -> float | None:
        """The 99th percentile latency, in seconds (``None`` if wrk gave none)."""
        return self.percentiles.get(99)

    @property
    def errors(self) -> int:
        """Socket errors of every kind plus non-2xx/3xx answers."""
        return sum(self.socketErrors.values()) + self.non2xx


def parseTime(text: str) -> float:
    """Read a wrk time such as ``44.03ms`` or ``1.02s`` as seconds."""
    match = re.fullmatch(_NUMBER_UNIT, text.strip())
    if not match or match.group(2) not in _TIME_UNITS:
        raise WrkError(f"not a wrk time: {text!r}")
    return float(match.group(1)) * _TIME_UNITS[match.group(2)]


def parseSize(text: str) -> int:
    """Read a wrk size such as ``5.00MB`` or ``812.34KB`` as bytes."""
    match = re.fullmatch(_NUMBER_UNIT, text.strip())
    if not match:
        raise WrkError(f"not a wrk size: {text!r}")
    unit = match.group(2) or "B"
    if unit not in _SIZE_UNITS:
        raise WrkError(f"not a wrk size: {text!r}")
    return round(float(match.group(1)) * _SIZE_UNITS[unit])


def parseWrkOutput(text: str) -> WrkResult:
    """
    Parse what ``wrk --latency`` printed.

    :raises WrkError: when the summary lines are missing (wrk failed, or
        printed a format this parser does not know).
    """
    summary = re.search(r"^\s*(\d+) requests in (\S+), (\S+) read\s*$", text, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s*([0-9.]+)\s*$", text, re.MULTILINE)
    transfer = re.search(r"^Transfer/sec:\s*(\S+)\s*$", text, re.MULTILINE)
    if not (summary and rate and transfer):
        raise WrkError(f"wrk output without a summary:\n{text}")
    percentiles: dict[int, float] = {}
    distribution = text.split("Latency Distribution", 1)
    if len(distribution) == 2:
        for match in re.finditer(r"^\s*(\d+)(?:\.\d+)?%\s+(\S+)\s*$", distribution[1], re.MULTILINE):
            percentiles[int(match.group(1))] = parseTime(match.group(2))
    socketErrors: dict[str, int] = {}
    errors = re.search(r"Socket errors:(.*)$", text, re.MULTILINE)
    if errors:
        for match in re.finditer(r"(\w+) (\d+)", errors.group(1)):
            socketErrors[match.group(1)] = int(match.group(2))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    return WrkResult(
        requests=int(summary.group(1)),
        duration=parseTime(summary.group(2)),
        bytesRead=parseSize(summary.group(3)),
        requestsPerSecond=float(rate.group(1)),
        bytesPerSecond=float(parseSize(transfer.group(1))),
        percentiles=percentiles,
        socketErrors=socketErrors,
        non2xx=int(non2xx.group(1)) if non2xx else 0,
    )


def wrkCommand(
    url: str,
    *,
    connections: int,
    duration: float,
    threads: int = 1,
    headers: tuple[str, ...] = (),
    timeout: float = 5.0,
) -> list[str]:
    """Build the wrk command line for one measurement (always ``--latency``)."""
    command = [
        WRK,
        f"--threads={min(threads, connections)}",
        f"--connections={connections}",
        f"--duration={max(1, round(duration))}s",
        f"--timeout={max(1, round(timeout))}s",
        "--latency",
    ]
    for header in headers:
        command += ["--header", header]
    return command + [url]


def runWrk(
    url: str,
    *,
    connections: int,
    duration: float,
    threads: int = 1,
    headers: tuple[str, ...] = (),
    timeout: float = 5.0,
) -> tuple[WrkResult, str]:
    """
    Run wrk against ``url`` (arguments as :func:`wrkCommand` takes them) and
    return the parsed result and wrk's text.

    Runs in the bench's main thread and blocks for the run's duration.
    """
    command = wrkCommand(
        url,
        connections=connections,
        duration=duration,
        threads=threads,
        headers=headers,
        timeout=timeout,
    )
    finished = subprocess.run(command, check=False, capture_output=True, text=True, timeout=duration + 60)
    if finished.returncode != 0:
        raise WrkError(f"{' '.join(command)} exited {finished.returncode}:\n{finished.stdout}{finished.stderr}")
    return parseWrkOutput(finished.stdout), finished.stdout


def combineResults(results: list[WrkResult]) -> WrkResult:
    """
    One result from several runs of the same scenario (the bench's rounds):
    counts and durations add up, so the rates are totals over total time;
    each latency percentile is the median of the runs' values (wrk prints
    no histogram to merge, so this is an approximation, said so in the docs).
    """
    if not results:
        raise ValueError("no results to combine")
    if len(results) == 1:
        return results[0]
    requests = sum(r.requests for r in results)
    duration = sum(r.duration for r in results)
    bytesRead = sum(r.bytesRead for r in results)
    percentiles = {}
    for key in sorted(set.intersection(*(set(r.percentiles) for r in results))):
        percentiles[key] = statistics.median(r.percentiles[key] for r in results)
    socketErrors: dict[str, int] = {}
    for result in results:
        for kind, count in result.socketErrors.items():
            socketErrors[kind] = socketErrors.get(kind, 0) + count
    return WrkResult(
        requests=requests,
        duration=duration,
        bytesRead=bytesRead,
        requestsPerSecond=requests / duration if duration else 0.0,
        bytesPerSecond=bytesRead / duration if duration else 0.0,
        percentiles=percentiles,
        socketErrors=socketErrors,
        non2xx=sum(r.non2xx for r in results),
    )
