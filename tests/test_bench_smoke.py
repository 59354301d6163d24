"""
Smoke tests of the benchmark's helpers (``bench/``), so the bench cannot rot
silently.  The benchmark itself is not part of the suite and nothing here
asserts a timing: these pin that wrk's and h2load's reports are read
correctly, that the targets are judged without slack, and that the bench's
launchers start our server (plain, and with its https and h2 ports) and
wptserve's own h2 server and get answers from them.
"""

from __future__ import annotations

import shutil
import sys
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import run  # noqa: E402
from bench.docroot import TINY_BODY, writeDocRoot  # noqa: E402
from bench.h2load import H2loadError, parseH2loadOutput, percentile, runH2load  # noqa: E402
from bench.rapidreset import FLOOD_PATH, measureRapidReset  # noqa: E402
from bench.servers import getStatus, ourServer, ourTLSServer, wptserveServer  # noqa: E402
from bench.wrk import WrkError, combineResults, parseWrkOutput, runWrk  # noqa: E402

#: Real ``wrk --latency`` output (Debian's wrk 4.1), with socket errors and
#: non-2xx answers.
WRK_SAMPLE = """\
Running 1s test @ http://127.0.0.1:36695/nothere.py
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.39ms    2.44ms  15.34ms   79.71%
    Req/Sec   617.60    132.76   750.00     80.00%
  Latency Distribution
     50%    2.93ms
     75%    4.55ms
     90%    6.95ms
     99%   11.98ms
  619 requests in 1.01s, 116.77KB read
  Socket errors: connect 0, read 619, write 0, timeout 0
  Non-2xx or 3xx responses: 619
Requests/sec:    613.38
Transfer/sec:    115.71KB
"""

#: Real output of a clean keep-alive run with sizes in MB and latencies in us.
WRK_CLEAN = """\
Running 2s test @ http://127.0.0.1:41495/mib.py
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.00us    1.02ms  20.10ms   95.00%
    Req/Sec   226.00     40.00   300.00     70.00%
  Latency Distribution
     50%  640.00us
     75%    1.10ms
     90%    2.00ms
     99%    1.02s
  453 requests in 2.00s, 453.05MB read
Requests/sec:    226.50
Transfer/sec:    226.52MB
"""


#: Real h2load output (nghttp2 1.52, Debian's nghttp2-client) against
#: wptserve's h2 server, with failures and error statuses edited in.
H2LOAD_SAMPLE = """\
starting benchmark...
spawning thread #0: 2 total client(s). Timing-based test with 0s of warm-up time and 1s of main duration for measurements.
Application protocol: h2
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 1.00s, 44.00 req/s, 1.57KB/s
requests: 46 total, 46 started, 44 done, 42 succeeded, 2 failed, 1 errored, 1 timeout
status codes: 41 2xx, 1 3xx, 1 4xx, 1 5xx
traffic: 1.57KB (1610) total, 108B (108) headers (space savings 92.66%), 572B (572) data
                     min         max         mean         sd        +/- sd
time for request:    43.82ms     50.30ms     44.36ms      1.29ms    90.91%
time for connect:     3.44ms      6.98ms      5.21ms      2.50ms   100.00%
time to 1st byte:    53.72ms     53.78ms     53.75ms        41us   100.00%
req/s           :      21.98       21.98       21.98        0.00   100.00%
"""


def test_parseH2loadOutputReadsCountsErrorsAndTheLogsPercentiles() -> None:
    """
    h2load's summary gives requests done, duration, bytes and rate; failed,
    errored and timed-out requests are socket errors, 4xx and 5xx answers
    non2xx; p50/p99 come from the per-request log (microseconds, third
    column), nearest rank.
    """
    log = "".join(f"1796120423819091\t200\t{us}\n" for us in range(1000, 101000, 1000))
    result = parseH2loadOutput(H2LOAD_SAMPLE, log)
    assert result.requests == 44
    assert result.duration == pytest.approx(1.0)
    assert result.requestsPerSecond == pytest.approx(44.0)
    assert result.bytesRead == 1610
    assert result.socketErrors == {"failed": 2, "errored": 1, "timeout": 1}
    assert result.non2xx == 2
    assert result.p50 == pytest.approx(0.050)
    assert result.p99 == pytest.approx(0.099)
    assert parseH2loadOutput(H2LOAD_SAMPLE).p50 is None
    assert percentile([1.0], 0.99) == 1.0


def test_parseH2loadOutputRefusesGarbage() -> None:
    """Output without h2load's summary (h2load could not connect) raises H2loadError."""
    with pytest.raises(H2loadError):
        parseH2loadOutput("starting benchmark...\nconnect error: Connection refused\n")


def test_parseWrkOutputReadsCountsPercentilesAndErrors() -> None:
    """wrk's summary, latency percentiles, socket errors and non-2xx count are all read, in seconds and bytes."""
    result = parseWrkOutput(WRK_SAMPLE)
    assert result.requests == 619
    assert result.duration == pytest.approx(1.01)
    assert result.bytesRead == round(116.77 * 1024)
    assert result.requestsPerSecond == pytest.approx(613.38)
    assert result.bytesPerSecond == pytest.approx(115.71 * 1024, abs=1)
    assert result.p50 == pytest.approx(0.00293)
    assert result.p99 == pytest.approx(0.01198)
    assert result.percentiles[75] == pytest.approx(0.00455)
    assert result.socketErrors == {"connect": 0, "read": 619, "write": 0, "timeout": 0}
    assert result.non2xx == 619
    assert result.errors == 619 * 2


def test_parseWrkOutputUnits() -> None:
    """Microseconds, seconds and binary megabytes convert correctly; a clean run has no errors."""
    result = parseWrkOutput(WRK_CLEAN)
    assert result.p50 == pytest.approx(640e-6)
    assert result.p99 == pytest.approx(1.02)
    assert result.bytesRead == round(453.05 * 1024 * 1024)
    assert result.errors == 0


def test_parseWrkOutputRefusesGarbage() -> None:
    """Output without wrk's summary (wrk failed) raises WrkError instead of yielding zeros."""
    with pytest.raises(WrkError):
        parseWrkOutput("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_combineResultsAddsRoundsUp() -> None:
    """Rounds combine into totals over total time, errors summed, percentiles the median of the rounds."""
    a = parseWrkOutput(WRK_SAMPLE)
    b = parseWrkOutput(WRK_CLEAN)
    combined = combineResults([a, b])
    assert combined.requests == 619 + 453
    assert combined.duration == pytest.approx(3.01)
    assert combined.requestsPerSecond == pytest.approx((619 + 453) / 3.01)
    assert combined.socketErrors["read"] == 619
    assert combined.non2xx == 619
    assert combined.p50 == pytest.approx((0.00293 + 640e-6) / 2)


def test_targetsAreJudgedAgainstTheIssuesBounds() -> None:
    """
    A ratio just under a bound FAILS and just over PASSES; the growth and
    start bounds are strict upper bounds; a target this run did not measure
    is NOT RUN, never PASS.
    """
    report = run.Report()
    tiny = parseWrkOutput(WRK_CLEAN)

    def measured(rate: float) -> run.Measurement:
        result = combineResults([tiny])
        result = type(result)(**{**result.__dict__, "requestsPerSecond": rate})
        return run.Measurement(result, 1.0)

    report.wrk["tiny-keepalive"] = {"wptserve": measured(100.0), "static": measured(1000.0), "ours": measured(999.0)}
    report.wrk["tiny-https"] = {"wptserve": measured(100.0), "ours": measured(499.0)}
    report.wrk["tiny-h2"] = {"wptserve": measured(100.0), "ours": measured(500.0)}
    report.startTimes = [1.0]
    targets = {target.name: target for target in run.computeTargets(report)}
    assert targets["tiny https: ours / wptserve https"].verdict == "FAIL"
    assert targets["tiny h2: ours / wptserve h2"].verdict == "PASS"
    assert "tiny https: ours / wptserve https" in run.targetTable(list(targets.values()))
    assert targets["tiny keep-alive: ours / wptserve"].verdict == "FAIL"
    assert targets["tiny keep-alive: ours / wptserve"].value == pytest.approx(9.99)
    assert targets["tiny keep-alive: ours / static.Data"].verdict == "PASS"
    assert targets["start to first answer (median)"].verdict == "FAIL"
    assert targets["1 GiB generator: ours RSS growth"].verdict == "NOT RUN"
    # HTTP/2's CPU per request against HTTP/1.1 over TLS: 2x exactly fails, under passes.
    same = combineResults([tiny])
    for cpu, verdict in ((2.0, "FAIL"), (1.99, "PASS")):
        report.wrk["tiny-https"]["ours"] = run.Measurement(same, 1.0)
        report.wrk["tiny-h2"]["ours"] = run.Measurement(same, cpu)
        targets = {target.name: target for target in run.computeTargets(report)}
        assert targets["tiny h2 / tiny https: ours, CPU per request"].verdict == verdict


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_launcherStartsOurServerAndWrkReadsIt(tmp_path: Path) -> None:
    """
    The bench's launcher starts ``twistd pyhandlers`` on the bench's doc
    root, it answers the tiny handler with the tiny body, a one-second wrk
    run against it parses and shows in the server's CPU time, and stopping
    it ends the process.
    """
    root = writeDocRoot(tmp_path / "root")
    server = ourServer(root, tmp_path / "ours.log", threads=4)
    with server:
        server.start()
        server.waitReady("/tiny.py")
        assert getStatus(server.port, "/tiny.py") == 200
        with urllib.request.urlopen(server.url("/tiny.py"), timeout=10) as answer:
            assert answer.read() == TINY_BODY
        assert server.rss() > 0
        # Starting Python and Twisted alone costs far more than one clock tick.
        cpuBefore = server.cpu()
        assert cpuBefore > 0
        result, text = runWrk(server.url("/tiny.py"), connections=2, duration=1)
        assert result.requests > 0, text
        assert result.non2xx == 0, text
        # A second of requests is counted as the server's own CPU time.
        assert server.cpu() > cpuBefore
        process = server.process
        assert process is not None
    assert process.returncode is not None
    assert (tmp_path / "ours.log").exists()


def test_soakSmoke(tmp_path: Path) -> None:
    """
    A small soak (``bench/soak.py``) against a real server: every answer of
    the mix is checked and right, no stash value is lost, and each runaway
    handler is answered 504 by the handler timeout while the others go on.
    """
    from bench.soak import runSoak

    report = runSoak(requests=600, clients=4, runawayEvery=100, workdir=tmp_path)
    assert report.requests >= 600
    assert report.errors == 0, report.errorSamples
    assert report.lostStashValues == 0
    assert report.runaways >= 4 and report.runawaysAnswered504 == report.runaways
    assert report.rssSamples and report.rssEnd > 0


@pytest.mark.skipif(shutil.which("wrk") is None or shutil.which("h2load") is None, reason="wrk or h2load is not installed")
def test_tlsLaunchersAnswerAndLoadToolsReadThem(tmp_path: Path) -> None:
    """
    The TLS launchers: our server's https and h2 ports (one process, made
    certificate) and wptserve's own h2 server each answer the tiny handler
    on their scheme; the bench's loads of each scenario's tool (wrk over
    TLS, h2load for HTTP/2) parse with requests and no errors.
    """
    root = writeDocRoot(tmp_path / "root")
    https = next(s for s in run.SCENARIOS if s.key == "tiny-https")
    h2 = next(s for s in run.SCENARIOS if s.key == "tiny-h2")
    assert (https.tool, h2.tool) == ("wrk", "h2load")
    with ourTLSServer(root, tmp_path / "ours.log", tmp_path / "tls", threads=4) as ours:
        ours.start()
        ours.waitReady("/tiny.py")
        assert set(ours.ports) == {"https", "h2"}
        assert getStatus(ours.ports["https"], "/tiny.py", scheme="https") == 200
        assert getStatus(ours.ports["h2"], "/tiny.py", scheme="h2") == 200
        assert getStatus(ours.ports["h2"], "/nothere.py", scheme="h2") == 404
        for scenario in (https, h2):
            result = run.load(ours, scenario, "/tiny.py", 1)
            assert result.requests > 0 and result.errors == 0, result
    with wptserveServer(root, tmp_path / "wptserve.log", scheme="h2", tlsDir=tmp_path / "tls-w") as theirs:
        theirs.start()
        theirs.waitReady("/tiny.py")
        result, text = runH2load(theirs.url("/tiny.py", "h2"), connections=1, duration=1)
        assert result.requests > 0 and result.errors == 0, text


def _measured(rate: float, cpuSeconds: float = 1.0) -> run.Measurement:
    """A measurement of ``rate`` requests/s (over WRK_CLEAN's 453 requests) and ``cpuSeconds``."""
    result = combineResults([parseWrkOutput(WRK_CLEAN)])
    result = type(result)(**{**result.__dict__, "requestsPerSecond": rate})
    return run.Measurement(result, cpuSeconds)


def test_secondRoundTargets() -> None:
    """
    The like-for-like targets: tiny 0.5x and query+header 0.45x of
    static.Data, CPU per request under 2.5x static.Data's (an upper bound),
    and --workers 2 at 1.3x --workers 1; each judged from its own scenario.
    """
    report = run.Report()
    report.wrk["tiny-keepalive"] = {"static": _measured(1000.0, 1.0), "ours": _measured(500.0, 2.6)}
    report.wrk["query-header"] = {"static": _measured(1000.0), "ours": _measured(440.0)}
    report.wrk["workers"] = {"ours": _measured(1000.0), "ours-w2": _measured(1300.0)}
    targets = {target.name: target for target in run.computeTargets(report)}
    assert targets["tiny keep-alive: ours / static.Data"].verdict == "PASS"
    assert targets["query + header handler: ours / static.Data"].verdict == "FAIL"
    cpu = targets["tiny keep-alive: ours / static.Data CPU per request"]
    assert cpu.value == pytest.approx(2.6) and cpu.verdict == "FAIL"
    assert targets["32 conns: --workers 2 / --workers 1"].verdict == "PASS"
    assert "--workers auto would pick" in targets["32 conns: --workers 2 / --workers 1"].note


def test_chartIsAPng(tmp_path: Path) -> None:
    """The bench draws its chart of req/s per scenario and server as a PNG file, the scaling servers included."""
    report = run.Report()
    report.wrk["tiny-keepalive"] = {"wptserve": _measured(200.0), "static": _measured(8000.0), "ours": _measured(4000.0)}
    report.wrk["workers"] = {"ours": _measured(4000.0), "ours-w2": _measured(6000.0)}
    chart = tmp_path / "chart.png"
    run.drawChart(report, chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.stat().st_size > 10_000


@pytest.mark.skipif(shutil.which("h2load") is None, reason="h2load (nghttp2-client) is not installed")
def test_rapidResetScenarioFloodsAndMeasures(tmp_path: Path) -> None:
    """
    The rapid-reset scenario's pieces on our h2 port: the flooder process
    opens and resets streams from 127.0.0.2 and sees our GOAWAY
    ENHANCE_YOUR_CALM (error 11) on the connections it spends, while
    h2load and wrk read the ordinary client's figures on the h2, http and
    https ports of the same process; its targets are
    judged from the result (a p99 bound and no failed request).
    """
    root = writeDocRoot(tmp_path / "root")
    assert (root / FLOOD_PATH.lstrip("/")).exists()
    with ourTLSServer(root, tmp_path / "ours.log", tmp_path / "tls", threads=16, plain=True) as ours:
        ours.start()
        ours.waitReady("/tiny.py")
        result = measureRapidReset(ours, 1, tmp_path / "flood.log")
    assert result.flood.streams > 200 and result.flood.connections >= 1
    assert result.flood.goaways.get("11", 0) >= 1, result.flood
    assert set(result.ordinary) == {"h2", "http", "https"}
    assert all(measured.requests > 0 for measured in result.ordinary.values()), result.ordinary
    report = run.Report()
    report.rapidReset["ours"] = result
    targets = {target.name: target for target in run.computeTargets(report)}
    failures = targets["Rapid Reset flood: ordinary client's failed requests (ours)"]
    assert failures.value == float(sum(measured.errors for measured in result.ordinary.values()))
    assert targets["Rapid Reset flood: ordinary client's p99 (ours: h2, http, https)"].value == max(
        measured.p99 or 0.0 for measured in result.ordinary.values()
    )
    assert "rapid-reset: ordinary client, http" in run.measurementTable(report)


def test_testStartBenchMeasuresRealAnswers() -> None:
    """
    ``bench/teststart.py`` starts, asks and stops real in-process servers:
    two runs give a figure per phase and run (it stops with an error on a
    wrong answer).
    """
    from bench.teststart import measure

    phases = measure(2)
    assert sorted(phases) == ["first answer", "start", "stop"]
    assert all(len(values) == 2 and all(value > 0 for value in values) for values in phases.values())
