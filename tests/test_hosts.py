"""
The host names of a config: the hosts-file block ``python -m
twisted_pyhandlers.hosts`` prints (as ``wpt make-hosts-file``), and the
Chromium switches the twistd plugin logs at start-up, proven in headless
Chromium: with nothing but those switches, a page on one https origin
reaches another host's origin and the wss port (Chromium's WebSocket
offers ALPN http/1.1 there).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

from serving import REPO, TopologyProcess, childEnvironment
from test_browser import outputs, requireChromium

from twisted_pyhandlers._certificates import makeServerCertificate
from twisted_pyhandlers._wptconfig import WPT_DEFAULT_CONFIG
from twisted_pyhandlers.config import ServerConfig
from twisted_pyhandlers.hosts import chromiumSwitches, hostResolverRules, hostsFile


def test_hostsFileAsWpt() -> None:
    """
    The block wpt's own test expects from ``make_hosts_file`` for foo.bar,
    its alternate host foo2.bar and the subdomains a and b: the same lines
    in the same order; on Windows the names that must not resolve go to
    0.0.0.0.
    """
    config = ServerConfig("foo.bar", alternateHosts={"alt": "foo2.bar"}, subdomains={"a", "b"}, notSubdomains={"x"})
    assert hostsFile(config, "192.168.42.42", windows=False).split("\n") == [
        "# Start web-platform-tests hosts",
        "192.168.42.42\tfoo.bar",
        "192.168.42.42\ta.foo.bar",
        "192.168.42.42\tb.foo.bar",
        "192.168.42.42\tfoo2.bar",
        "192.168.42.42\ta.foo2.bar",
        "192.168.42.42\tb.foo2.bar",
        "# End web-platform-tests hosts",
        "",
    ]
    assert "0.0.0.0\tx.foo2.bar" in hostsFile(config, windows=True).split("\n")
    rules = hostResolverRules(config)
    assert rules.startswith("MAP foo.bar 127.0.0.1, MAP a.foo.bar 127.0.0.1, ")
    assert rules.endswith("MAP x.foo.bar ~NOTFOUND, MAP x.foo2.bar ~NOTFOUND")
    assert chromiumSwitches(config, pin="PIN")[1] == "--ignore-certificate-errors-spki-list=PIN"


def test_hostsCommand(tmp_path: Path) -> None:
    """
    ``python -m twisted_pyhandlers.hosts --root DIR`` prints a line for each
    of wpt's 62 default names (the main and alternate hosts, their
    subdomains and pairs, IDNA-encoded), none for the nonexistent ones;
    ``--config`` merges a file over the defaults and ``--address`` changes
    the address; ``--chromium --tls-dir`` prints the resolver rules and the
    pin of the certificate kept there; a bad config or --tls-dir is exit
    status 2 with one line.
    """
    def run(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "twisted_pyhandlers.hosts", "--root", str(tmp_path), *arguments],
            capture_output=True, text=True, env=childEnvironment(), cwd=REPO, timeout=60,
        )

    result = run()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == "# Start web-platform-tests hosts" and lines[-2:] == ["# End web-platform-tests hosts", ""]
    names = [line.split("\t")[1] for line in lines[1:-2]]
    assert len(names) == len(set(names)) == 62
    assert set(names) == ServerConfig.fromDict(WPT_DEFAULT_CONFIG)["domains_set"]
    assert "xn--lve-6lad.www1.not-web-platform.test" in names and not any("nonexistent" in n for n in names)
    (tmp_path / "mine.json").write_text(json.dumps({"browser_host": "wpt.example", "alternate_hosts": {"alt": "alt.example"}}))
    result = run("--config", str(tmp_path / "mine.json"), "--address", "10.0.0.7")
    assert "10.0.0.7\twww2.wpt.example" in result.stdout.split("\n")
    assert "10.0.0.7\twww2.alt.example" in result.stdout.split("\n")
    certificate = makeServerCertificate(tmp_path / "tls", ["web-platform.test"])
    result = run("--chromium", "--tls-dir", str(tmp_path / "tls"))
    switches = shlex.split(result.stdout)
    assert switches[0].startswith("--host-resolver-rules=MAP not-web-platform.test 127.0.0.1, ")
    assert "MAP xn--lve-6lad.www1.web-platform.test 127.0.0.1" in switches[0]
    assert switches[1] == f"--ignore-certificate-errors-spki-list={certificate.pin}"
    result = run("--chromium", "--tls-dir", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "--tls-dir" in result.stderr
    (tmp_path / "bad.json").write_text("[1]")
    result = run("--config", str(tmp_path / "bad.json"))
    assert result.returncode == 2 and "must be a JSON object" in result.stderr


PAGE = """\
<!DOCTYPE html>
<meta charset="utf-8">
<p>Other host: <output id="cross">…</output></p>
<p>WebSocket: <output id="ws">…</output></p>
<script>
// Headless Chromium dumps the page at its load event, which the frame of
// hold.py delays until the page has both answers.
let done = 0;
function show(id, value) {
  document.getElementById(id).textContent = value;
  if (++done == 2) fetch("/release.py");
}
fetch("https://{{hosts[alt][élève]}}:{{ports[https][1]}}/cors.py")
  .then(r => r.text()).then(t => show("cross", t), e => show("cross", "error " + e));
const ws = new WebSocket("wss://{{domains[www1]}}:{{ports[wss][0]}}/echo");
ws.onopen = () => ws.send("echoed");
ws.onmessage = event => show("ws", event.data);
ws.onerror = () => show("ws", "error");
ws.onclose = event => { if (done < 2) show("ws", "closed " + event.code); };
</script>
<iframe src="/hold.py"></iframe>
"""

CORS = """\
def main(request, response):
    return [("Access-Control-Allow-Origin", "*")], request.headers.get("Host", b"")
"""

KEY = "9b3b1f9e-6d2a-4c1e-9f5e-2f4d8a7c6b10"

HOLD = f"""\
import time

def main(request, response):
    for _ in range(600):
        if request.server.stash.take("{KEY}", "/") is not None:
            return "released"
        time.sleep(0.05)
    return "given up"
"""

RELEASE = f"""\
def main(request, response):
    request.server.stash.put("{KEY}", "done", "/")
    return "ok"
"""

ECHO_WSH = """\
def web_socket_do_extra_handshake(request):
    request.ws_extension_processors = []

def web_socket_transfer_data(request):
    message = request.ws_stream.receive_message()
    if message is not None:
        request.ws_stream.send_message(message, binary=False)
"""


def test_loggedSwitchesReachEveryOrigin(tmp_path: Path) -> None:
    """
    ``--all-ports`` with a config wpt serve takes logs the Chromium
    switches; headless Chromium given only those loads a ``.sub.`` page
    from ``https://web-platform.test`` whose fetch reaches the IDNA
    subdomain of the alternate host on the second https port and whose
    WebSocket echoes over the wss port on ``www1``, with no certificate
    error.
    """
    browser = requireChromium()
    root = tmp_path / "root"
    (root / "websockets" / "handlers").mkdir(parents=True)
    (root / "websockets" / "handlers" / "echo_wsh.py").write_text(ECHO_WSH)
    (root / "page.sub.html").write_text(PAGE, encoding="utf-8")
    (root / "cors.py").write_text(CORS)
    (root / "hold.py").write_text(HOLD)
    (root / "release.py").write_text(RELEASE)
    (tmp_path / "config.json").write_text(json.dumps({"ports": {"http": ["auto", "auto"], "https": ["auto", "auto"], "h2": ["auto"]}}))
    server = TopologyProcess(
        tmp_path, "--root", str(root), "--config", "config.json", "--all-ports", "--tls-dir", "tls",
        "--access-log", str(tmp_path / "access.log"),
    )
    server.start(origins=13)
    try:
        deadline = time.monotonic() + 30
        while (match := re.search(r"Chromium, every origin without /etc/hosts: (.*)", server.text())) is None:
            assert time.monotonic() < deadline, server.text()
            time.sleep(0.05)
        switches = shlex.split(match.group(1))
        assert switches[1] == f"--ignore-certificate-errors-spki-list={server.pin()}"
        https = server.ports("https")
        url = f"https://web-platform.test:{https[0]}/page.sub.html"
        result = subprocess.run(
            [
                browser, "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-sandbox",
                f"--user-data-dir={tmp_path / 'profile'}", *switches, "--dump-dom", url,
            ],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
            env=dict(os.environ, HOME=str(tmp_path / "profile")),
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ERR_CERT" not in result.stderr and "ERR_SSL" not in result.stderr, result.stderr[-3000:]
    assert outputs(result.stdout) == {
        "cross": f"xn--lve-6lad.not-web-platform.test:{https[1]}",
        "ws": "echoed",
    }, result.stdout + (tmp_path / "access.log").read_text()
