"""
How long the ``pyhandlers`` fixture's server takes to start: an in-process
server with a handler function (its reactor, its port, its thread), from
the call until a first request could be answered, then its stop.

    python -m bench.teststart [--runs 50] [--json out.json]

Each run starts a server, sends one request on a plain socket and reads
the answer (so the time covers "ready", not only "returned"), and stops it.
Reported: the median and the slowest of the start (the constructor and
``start()``), of the first answer, and of the stop, in milliseconds.  The
target is a start well under 100 ms (docs/testing-handlers.rst).  Timing
lives here, never in a test.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import time
from typing import Dict, List

from twisted_pyhandlers.testing import InProcessServer


def main(request: object, response: object) -> str:
    return "ok"


def firstAnswer(port: int) -> bytes:
    """One HTTP/1.1 request on a fresh socket; the whole answer."""
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def measure(runs: int) -> Dict[str, List[float]]:
    """Milliseconds of each phase, per run."""
    phases: Dict[str, List[float]] = {"start": [], "first answer": [], "stop": []}
    for _ in range(runs):
        began = time.perf_counter()
        server = InProcessServer(handlers={"/ready": main}).start()
        started = time.perf_counter()
        answer = firstAnswer(server.port)
        answered = time.perf_counter()
        server.stop()
        stopped = time.perf_counter()
        if not answer.startswith(b"HTTP/1.1 200") or not answer.endswith(b"ok"):
            raise SystemExit(f"unexpected answer: {answer[:200]!r}")
        phases["start"].append((started - began) * 1000)
        phases["first answer"].append((answered - started) * 1000)
        phases["stop"].append((stopped - answered) * 1000)
    return phases


def run(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--json", help="also write the figures to this file")
    options = parser.parse_args(argv)
    phases = measure(options.runs)
    report = {
        name: {"median_ms": round(statistics.median(values), 2), "max_ms": round(max(values), 2)}
        for name, values in phases.items()
    }
    for name, figures in report.items():
        print(f"{name:>13}: median {figures['median_ms']:7.2f} ms, slowest {figures['max_ms']:7.2f} ms")
    verdict = "PASS" if report["start"]["median_ms"] + report["first answer"]["median_ms"] < 100 else "FAIL"
    print(f"start + first answer under 100 ms (median): {verdict}")
    if options.json:
        with open(options.json, "w", encoding="utf-8") as out:
            json.dump({"runs": options.runs, "phases": report, "verdict": verdict}, out, indent=2)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
