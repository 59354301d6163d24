"""
Real pages in a real browser.  Headless Chromium loads the bundled
``examples/example.html`` from a real ``twistd pyhandlers`` process; the
page fetches the seed's example handler and checks the status, status
text, Content-Type and body itself.  And it loads a page over TLS, on an
https (HTTP/1.1) port and on an h2 (HTTP/2) port, the way a WPT run does:
the host names mapped to loopback with ``--host-resolver-rules`` and the
made certificate accepted by the SPKI pin the server logged
(``--ignore-certificate-errors-spki-list``), with no certificate warning;
the page's script fetches a handler (and one on a subdomain) and checks
what the handler computed.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence

import pytest
from serving import REPO, TwistdProcess
from test_tls import Server

#: Where a browser may be, in order: Debian's ``chromium`` package first.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> Optional[str]:
    """The Chromium (or Chrome) binary, or None."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def runChromium(browser: str, url: str, profile: Path, extra: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """
    Headless Chromium on ``url`` with ``extra`` switches, dumping the DOM
    once the page's fetch has settled: ``--virtual-time-budget`` lets the
    page run (its network requests included) until it is idle or the
    budget is spent.
    """
    return subprocess.run(
        [
            browser, "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            # The sandbox needs user namespaces, which containers (and root) often lack;
            # the page is our own, on loopback.
            "--no-sandbox",
            f"--user-data-dir={profile}", "--virtual-time-budget=20000", *extra, "--dump-dom", url,
        ],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env=dict(os.environ, HOME=str(profile)),
    )


def renderedPage(browser: str, url: str, profile: Path, extra: Sequence[str] = ()) -> str:
    """The DOM of ``url`` as :func:`runChromium` dumps it; Chromium must succeed."""
    result = runChromium(browser, url, profile, extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def outputs(dom: str) -> Dict[str, str]:
    """The text of each ``<output id=...>`` of the dumped page."""
    return {name: html.unescape(text) for name, text in re.findall(r'<output id="(\w+)">(.*?)</output>', dom, re.S)}


def requireChromium() -> str:
    """The browser, or skip the test saying how to install one."""
    browser = chromium()
    if browser is None:
        pytest.skip(
            "no Chromium found (looked for " + ", ".join(BROWSERS) + "); "
            "apt-get install chromium chromium-driver, as .ci/run does"
        )
    return browser


def test_examplePagePassesInChromium(tmp_path: Path) -> None:
    """
    In headless Chromium, the example page's fetch of
    ``resources/example.py?content-type=text/foobar`` sees status 200, the
    status text "my status text", Content-Type text/foobar and the body
    "my response content", and the page says PASS.
    """
    browser = requireChromium()
    server = TwistdProcess(tmp_path, "--root", str(REPO / "examples"))
    try:
        dom = renderedPage(browser, server.url("/example.html"), tmp_path / "profile")
    finally:
        server.stop()
    assert outputs(dom) == {
        "status": "200",
        "statusText": "my status text",
        "contentType": "text/foobar",
        "body": "my response content",
        "result": "PASS",
    }, dom


#: The page loaded over TLS: it fetches ``check.py`` on its own origin and
#: on the ``www`` subdomain (a cross-origin fetch, allowed by the handler's
#: CORS header) with the token the test put in the page's query, and says
#: PASS only when both answers are what the handler computes from the
#: request: the token reversed, the protocol the page expects, the URL.
TLS_PAGE = """\
<!DOCTYPE html>
<meta charset="utf-8">
<title>TLS page</title>
<p>Same origin: <output id="same">…</output></p>
<p>Subdomain: <output id="subdomain">…</output></p>
<p>Result: <output id="result">running</output></p>
<script>
const query = new URLSearchParams(location.search);
const token = query.get('token');
const protocol = query.get('protocol');
const origins = {same: location.origin, subdomain: location.origin.replace('://', '://www.')};
function show(id, value) {
  document.getElementById(id).textContent = value;
}
Promise.all(Object.entries(origins).map(async ([id, origin]) => {
  const url = origin + '/check.py?token=' + token;
  const seen = await (await fetch(url)).json();
  show(id, JSON.stringify(seen));
  const expected = {reversed: [...token].reverse().join(''), protocol: protocol, url: url};
  return Object.keys(expected).filter(key => seen[key] !== expected[key]).map(key => id + ' ' + key);
})).then(wrong => {
  wrong = wrong.flat();
  show('result', wrong.length ? 'FAIL: ' + wrong.join(', ') : 'PASS');
}).catch(error => show('result', 'FAIL: ' + error));
</script>
"""

CHECK_HANDLER = """\
import json


def main(request, response):
    token = request.GET.first(b"token").decode()
    return [("Content-Type", "application/json"), ("Access-Control-Allow-Origin", "*")], json.dumps(
        {"reversed": token[::-1], "protocol": request.protocol_version, "url": request.url}
    )
"""

#: web-platform.test and every subdomain to loopback, as WPT's docs tell
#: Chromium users to do instead of editing the hosts file.
RESOLVER_RULES = "--host-resolver-rules=MAP web-platform.test 127.0.0.1, MAP *.web-platform.test 127.0.0.1"


@pytest.fixture(scope="module")
def tlsServer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One ``twistd pyhandlers`` serving an https and an h2 port with the made certificate."""
    tmp = tmp_path_factory.mktemp("browser-tls")
    root = tmp / "root"
    root.mkdir()
    (root / "page.html").write_text(TLS_PAGE)
    (root / "check.py").write_text(CHECK_HANDLER)
    server = Server(
        tmp, "--root", str(root), "--tls-dir", "tls",
        "--listen", "https=tcp:0:interface=127.0.0.1", "--listen", "h2=tcp:0:interface=127.0.0.1",
    )
    server.start(origins=2)
    yield server
    server.stop()


@pytest.mark.parametrize("scheme, protocol", [("https", "HTTP/1.1"), ("h2", "HTTP/2.0")])
def test_tlsPagePassesInChromiumWithThePin(tlsServer: Server, tmp_path: Path, scheme: str, protocol: str) -> None:
    """
    Chromium, given the ``spki pin:`` the server logged and the host
    resolver rules, loads ``https://web-platform.test:PORT/page.html`` from
    the ``scheme`` port with no certificate error, over ``protocol`` (the
    handler says which it saw), and the page's fetches of the handler on
    its own origin and on ``www.web-platform.test`` see the token reversed
    and the URL asked for: the page says PASS.
    """
    browser = requireChromium()
    token = secrets.token_hex(8)
    port = tlsServer.ports(scheme)[0]
    url = f"https://web-platform.test:{port}/page.html?token={token}&protocol={protocol}"
    result = runChromium(
        browser, url, tmp_path / "profile", [f"--ignore-certificate-errors-spki-list={tlsServer.pin()}", RESOLVER_RULES]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ERR_CERT" not in result.stderr, result.stderr[-3000:]
    seen = outputs(result.stdout)
    assert seen["result"] == "PASS", result.stdout
    check = f"/check.py?token={token}"
    assert json.loads(seen["same"]) == {
        "reversed": token[::-1], "protocol": protocol, "url": f"https://web-platform.test:{port}{check}",
    }
    assert json.loads(seen["subdomain"])["url"] == f"https://www.web-platform.test:{port}{check}"


def test_tlsPageFailsInChromiumWithAWrongPin(tlsServer: Server, tmp_path: Path) -> None:
    """
    The pin is what makes Chromium accept the made certificate: with
    another key's pin the same page load fails with a certificate error
    (the CA is not trusted) and nothing says PASS.
    """
    browser = requireChromium()
    wrongPin = base64.b64encode(hashlib.sha256(b"not the server key").digest()).decode()
    assert wrongPin != tlsServer.pin()
    port = tlsServer.ports("https")[0]
    result = runChromium(
        browser,
        f"https://web-platform.test:{port}/page.html?token=abc&protocol=HTTP/1.1",
        tmp_path / "profile",
        [f"--ignore-certificate-errors-spki-list={wrongPin}", RESOLVER_RULES],
    )
    assert "ERR_CERT_AUTHORITY_INVALID" in result.stderr, result.stderr[-3000:]
    assert "PASS" not in result.stdout, result.stdout
