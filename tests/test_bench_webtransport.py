"""
Smoke test of ``bench/webtransport.py`` (so it cannot rot silently): run
with a few operations, it starts its server, measures each kind of round
trip and prints one row for each.  No timing is asserted.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_benchRunsAndReportsEachRoundTrip() -> None:
    """The bench prints a row with n, median, p90 and rate for handshakes, stream and datagram echoes."""
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "webtransport.py"), "--handshakes", "2", "--echoes", "3"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {m[0]: int(m[1]) for m in re.findall(r"^(handshake|stream echo|datagram echo)\s+(\d+)\s+[\d.]+\s+[\d.]+\s+\d+$", result.stdout, re.M)}
    assert rows == {"handshake": 2, "stream echo": 3, "datagram echo": 3}, result.stdout
