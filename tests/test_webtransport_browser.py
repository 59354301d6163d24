"""
WebTransport from a real browser: headless Chromium loads a page from the
server's http port (``http://127.0.0.1`` is a secure context) whose script
opens ``new WebTransport("https://web-platform.test:PORT/webtransport/handlers/echo.py")``
on the same server's ``webtransport-h3`` port, trusting the made
certificate by its SPKI pin (``--ignore-certificate-errors-spki-list``), the
host mapped to loopback by ``--host-resolver-rules`` and QUIC forced for
the origin (``--origin-to-force-quic-on``), as wpt's Chromium runs do.  The
page echoes a stream and a datagram through the echo handler, closes the
session with a code and reason, and says PASS.

Headless Chromium's ``--virtual-time-budget`` waits for pending fetches but
not for QUIC sessions: the page keeps one fetch pending (``hold.py``, which
answers once the page's last fetch released it) so that the DOM is dumped
after the WebTransport work, not before.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from test_browser import RESOLVER_RULES, outputs, requireChromium, runChromium
from test_tls import Server

HERE = Path(__file__).resolve().parent

#: Holds a request until another one with ``&release`` for the same token
#: comes (or 30 s pass).
HOLD_HANDLER = """\
import time


def main(request, response):
    token = request.GET.first(b"token").decode()
    if b"release" in request.GET:
        request.server.stash.put(key=token, value=True)
        return "released"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if request.server.stash.take(key=token) is not None:
            return "held"
        time.sleep(0.02)
    return "timeout"
"""

#: The page: a bidirectional stream's echo, then a datagram's (sent again
#: every 100 ms until one comes back: datagrams may be dropped), then a
#: close with a code and a reason; then the close a handler makes, and the
#: close of a session whose handler raised, as the page's ``closed`` sees them.
PAGE = """\
<!DOCTYPE html>
<meta charset="utf-8">
<title>WebTransport echo</title>
<p>Stream: <output id="stream">…</output></p>
<p>Datagram: <output id="datagram">…</output></p>
<p>Server close: <output id="serverClose">…</output></p>
<p>Handler error: <output id="handlerError">…</output></p>
<p>Result: <output id="result">running</output></p>
<script>
const query = new URLSearchParams(location.search);
const token = query.get('token');
function show(id, value) { document.getElementById(id).textContent = value; }
const held = fetch('/hold.py?token=' + token);
(async () => {
  const transport = new WebTransport(query.get('url'));
  await transport.ready;
  const stream = await transport.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  await writer.write(new TextEncoder().encode('s' + token));
  await writer.close();
  let text = '';
  const reader = stream.readable.getReader();
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  show('stream', text);
  const datagrams = transport.datagrams.writable.getWriter();
  const incoming = transport.datagrams.readable.getReader();
  const sending = setInterval(() => datagrams.write(new TextEncoder().encode('d' + token)), 100);
  datagrams.write(new TextEncoder().encode('d' + token));
  const {value} = await incoming.read();
  clearInterval(sending);
  show('datagram', new TextDecoder().decode(value));
  transport.close({closeCode: 7, reason: 'bye'});
  // A handler's session.close((9, b'done')), and a handler that raises.
  const base = query.get('url').replace('echo.py', '');
  const closing = new WebTransport(base + 'server-close.py?code=9&reason=done');
  const closed = await closing.closed;
  show('serverClose', JSON.stringify(closed));
  const failing = new WebTransport(base + 'raise.py');
  await failing.ready;
  const doomed = (await failing.createBidirectionalStream()).writable.getWriter();
  await doomed.write(new TextEncoder().encode('way'));
  show('handlerError', JSON.stringify(await failing.closed));
  show('result', text === 's' + token ? 'PASS' : 'FAIL: stream');
})().catch(error => show('result', 'FAIL: ' + error))
  .finally(() => fetch('/hold.py?release&token=' + token).then(() => held));
</script>
"""


def test_chromiumEchoesAStreamAndADatagram(tmp_path: Path) -> None:
    """
    Chromium opens a WebTransport session on the webtransport-h3 port
    (the made certificate accepted by its pin), gets its stream's bytes and
    a datagram back from the echo handler; a handler's close reaches the
    page's ``closed`` with its code and reason, and so does the close of a
    session whose handler raised (500, the error); the page says PASS.
    """
    browser = requireChromium()
    root = tmp_path / "root"
    shutil.copytree(HERE / "wt_root", root)
    (root / "webtransport.html").write_text(PAGE)
    (root / "hold.py").write_text(HOLD_HANDLER)
    server = Server(
        tmp_path, "--root", str(root), "--tls-dir", "tls",
        "--listen", "webtransport-h3=udp:0:interface=127.0.0.1", "--listen", "http=tcp:0:interface=127.0.0.1",
    )
    server.start(origins=2)
    try:
        port = server.ports("webtransport-h3")[0]
        token = str(uuid.uuid4())
        url = (
            f"http://127.0.0.1:{server.ports('http')[0]}/webtransport.html?token={token}"
            f"&url=https://web-platform.test:{port}/webtransport/handlers/echo.py"
        )
        result = runChromium(
            browser, url, tmp_path / "profile",
            [f"--ignore-certificate-errors-spki-list={server.pin()}", RESOLVER_RULES,
             f"--origin-to-force-quic-on=web-platform.test:{port}"],
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert outputs(result.stdout) == {
        "stream": "s" + token,
        "datagram": "d" + token,
        "serverClose": json.dumps({"closeCode": 9, "reason": "done"}, separators=(",", ":")),
        "handlerError": json.dumps(
            {"closeCode": 500, "reason": "stream_data_received raised ZeroDivisionError: no way"}, separators=(",", ":")
        ),
        "result": "PASS",
    }, result.stdout


#: A page loaded over HTTP/3 that fetches a handler on its own origin.
H3_PAGE = """\
<!DOCTYPE html>
<meta charset="utf-8">
<p>Answer: <output id="answer">…</output></p>
<script>
fetch('/protocol.py?token=' + new URLSearchParams(location.search).get('token'))
  .then(response => response.text().then(text => {
    document.getElementById('answer').textContent = response.headers.get('x-protocol') + ' ' + text;
  }))
  .catch(error => { document.getElementById('answer').textContent = 'FAIL: ' + error; });
</script>
"""

PROTOCOL_HANDLER = """\
def main(request, response):
    return [("X-Protocol", request.protocol_version)], request.GET.first(b"token")[::-1]
"""


def test_chromiumLoadsAPageAndAHandlerOverHTTP3(tmp_path: Path) -> None:
    """
    With QUIC forced for the origin of an ``h3`` port, Chromium loads a page
    from it and the page's fetch reaches a handler, over HTTP/3 (the handler
    sees HTTP/3 and reverses the page's token).
    """
    browser = requireChromium()
    root = tmp_path / "root"
    root.mkdir()
    (root / "page.html").write_text(H3_PAGE)
    (root / "protocol.py").write_text(PROTOCOL_HANDLER)
    server = Server(tmp_path, "--root", str(root), "--tls-dir", "tls", "--listen", "h3=udp:0:interface=127.0.0.1")
    server.start(origins=1)
    try:
        port = server.ports("h3")[0]
        token = uuid.uuid4().hex
        result = runChromium(
            browser, f"https://web-platform.test:{port}/page.html?token={token}", tmp_path / "profile",
            [f"--ignore-certificate-errors-spki-list={server.pin()}", RESOLVER_RULES,
             f"--origin-to-force-quic-on=web-platform.test:{port}"],
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert outputs(result.stdout) == {"answer": "HTTP/3 " + token[::-1]}, result.stdout
