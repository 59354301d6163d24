"""
Profile our server under one bench scenario with py-spy.

``python bench/profile.py tiny-keepalive`` starts ``twistd pyhandlers`` on the
bench's document root, drives it with the scenario's wrk load, samples it
with ``py-spy record --gil`` (only the thread holding the GIL, which is what
limits a CPython server) while wrk runs, and prints where the samples fall:
the frames with the most samples of their own ("self"), the frames with the
most samples below them ("inclusive"), and a few named buckets that
``docs/performance.rst`` reports (access log, thread hand-off, resource
lookup, handler, transport writes).

py-spy is not a dependency of the project: ``pip install py-spy`` first.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.docroot import writeDocRoot
from bench.run import SCENARIOS, Scenario
from bench.servers import ourServer
from bench.wrk import wrkCommand

#: Named buckets: a sample counts in a bucket when any frame of its stack
#: contains one of the markers (a sample may count in several buckets).
BUCKETS: dict[str, tuple[str, ...]] = {
    "access log (HTTPFactory.log -> twisted.logger -> file)": ("HTTPFactory.log ",),
    "thread hand-off (callInThread, callFromThread, wake-ups)": (
        "ThreadPool.callInThread ",
        "callFromThread ",
        "Condition.notify ",
        "_threadworker.py",
        "_team.py",
    ),
    "resource lookup (getChildForRequest)": ("getChildForRequest ",),
    "realpath in _isInside": ("_isInside ",),
    "handler code and response building (worker)": ("HandlerRun._runHandler ",),
    "code cache (stat, lookup)": ("CodeCache.get ",),
    "reading and dispatching a request (dataReceived -> render)": ("HTTPChannel.dataReceived ",),
    "transport writes (send syscalls)": ("writeSomeData ",),
    "request finish, access log included (Request.finish)": ("Request.finish ",),
}


def summarise(rawPath: Path, top: int = 25) -> str:
    """
    Read py-spy's ``--format raw`` output (``frame;frame;... count`` lines)
    and format the self, inclusive and bucket tables.
    """
    selfCounts: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    buckets: collections.Counter[str] = collections.Counter()
    total = 0
    for line in rawPath.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        selfCounts[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
        for bucket, markers in BUCKETS.items():
            if any(marker in frame for frame in frames for marker in markers):
                buckets[bucket] += samples
    if not total:
        return "no samples"
    out = [f"{total} samples (GIL-holding thread only)", "", "buckets (share of all samples):"]
    out += [f"  {buckets[name] / total:6.1%}  {name}" for name in BUCKETS]
    out += ["", "self:"]
    out += [f"  {count / total:6.1%}  {frame}" for frame, count in selfCounts.most_common(top)]
    out += ["", "inclusive:"]
    out += [f"  {count / total:6.1%}  {frame}" for frame, count in inclusive.most_common(top * 2)]
    return "\n".join(out)


def profileScenario(scenario: Scenario, seconds: float, workDir: Path, threads: int | None) -> tuple[str, str]:
    """
    Run ``scenario`` against a fresh server of ours for ``seconds`` + 2 s,
    recording ``seconds`` of py-spy samples in the middle; return wrk's text
    and the summary.  Runs in the main thread.
    """
    pySpy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not os.path.exists(pySpy):
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    root = writeDocRoot(workDir / "root")
    raw = workDir / "profile.raw"
    path = scenario.paths["ours"]
    with ourServer(root, workDir / "ours.log", threads=threads) as server:
        server.start()
        server.waitReady("/tiny.py")
        command = wrkCommand(
            server.url(path),
            connections=scenario.connections,
            duration=round(seconds) + 2,
            threads=scenario.threads,
            headers=scenario.headers,
        )
        wrk = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        subprocess.run(
            [
                pySpy,
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(round(seconds)),
                "--rate",
                "250",
                "--gil",
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(raw),
            ],
            check=True,
            capture_output=True,
        )
        text, _ = wrk.communicate()
    return text, summarise(raw)


def main(argv: list[str] | None = None) -> int:
    """Profile one scenario and print wrk's report and the summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=[s.key for s in SCENARIOS if "ours" in s.paths])
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of sampling (default 6)")
    parser.add_argument("--threads", type=int, help="pass --threads N to our server")
    args = parser.parse_args(argv)
    scenario = next(s for s in SCENARIOS if s.key == args.scenario)
    with tempfile.TemporaryDirectory(prefix="pyhandlers-profile-") as workDir:
        text, summary = profileScenario(scenario, args.seconds, Path(workDir), args.threads)
    print(text)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
