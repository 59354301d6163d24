"""
Generated test pages in a real browser: headless Chromium (driven by
chromedriver) loads the ``.any.html``, ``.any.worker.html``,
``.any.sharedworker.html`` and, over https, ``.any.serviceworker.html``
pages that a real ``twistd pyhandlers`` makes from
``tests/wptpages/browser/scopes/scopes.any.js``, with web-platform-tests'
real ``testharness.js``; the test suite's own ``testharnessreport.js``
writes the harness's results into the page as JSON, and every subtest must
pass in every scope.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, Sequence

import pytest
from serving import TwistdProcess
from test_browser import RESOLVER_RULES, requireChromium
from test_tls import Server
from webdriver import ChromiumSession

ROOT = Path(__file__).resolve().parent / "wptpages" / "browser"

#: The subtests of scopes.any.js, each of which must pass in every scope.
SUBTESTS = {
    "the META script ran before the test",
    "self.GLOBAL names the scope",
    "the page's query reached the scope",
    "a handler answers a fetch from the scope",
}

_RESULTS = "const found = document.getElementById('harness-results'); return found && found.textContent;"


def harnessResults(url: str, profile: Path, arguments: Sequence[str] = ()) -> Dict[str, Any]:
    """Load ``url`` in headless Chromium and wait for the harness's results."""
    requireChromium()
    session = ChromiumSession(profile, arguments)
    try:
        session.open(url)
        return json.loads(session.waitFor(_RESULTS))
    finally:
        session.close()


def assertAllPass(results: Dict[str, Any]) -> None:
    """The harness completed (status OK) and every subtest passed (status 0)."""
    assert results["status"] == 0, results
    assert {test["name"] for test in results["tests"]} == SUBTESTS, results
    assert all(test["status"] == 0 for test in results["tests"]), results


@pytest.fixture(scope="module")
def plainServer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwistdProcess]:
    """``twistd pyhandlers`` serving the browser root over http (generated pages on by default)."""
    server = TwistdProcess(tmp_path_factory.mktemp("pages-http"), "--root", str(ROOT))
    yield server
    server.stop()


@pytest.mark.parametrize("page", ["scopes.any.html", "scopes.any.worker.html", "scopes.any.sharedworker.html"])
def test_pagePassesInChromium(plainServer: TwistdProcess, tmp_path: Path, page: str) -> None:
    """
    The generated page runs scopes.any.js in its scope (the window, a
    dedicated worker, a shared worker): its META script ran first,
    ``self.GLOBAL`` names the scope, the page's query reached the test's
    ``location.search`` and a fetch of a handler from there is answered;
    the harness reports every subtest as passing.
    """
    assertAllPass(harnessResults(plainServer.url(f"/scopes/{page}?variant=1"), tmp_path / "profile"))


def test_serviceWorkerPagePassesInChromium(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    """
    Over https (the made certificate accepted by its SPKI pin, the host
    names mapped to loopback), the generated ``.any.serviceworker.html``
    registers ``scopes.any.worker.js`` as a service worker and every subtest
    of scopes.any.js passes there.
    """
    requireChromium()
    server = Server(
        tmp_path_factory.mktemp("pages-https"), "--root", str(ROOT), "--tls-dir", "tls",
        "--listen", "https=tcp:0:interface=127.0.0.1",
    )
    server.start(origins=1)
    try:
        port = server.ports("https")[0]
        results = harnessResults(
            f"https://web-platform.test:{port}/scopes/scopes.any.serviceworker.html?variant=1",
            tmp_path / "profile",
            [f"--ignore-certificate-errors-spki-list={server.pin()}", RESOLVER_RULES],
        )
    finally:
        server.stop()
    assertAllPass(results)
