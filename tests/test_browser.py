"""
The bundled example page in a real browser: headless Chromium loads
``examples/example.html`` from a real ``twistd pyhandlers`` process; the
page fetches the seed's example handler and checks the status, status
text, Content-Type and body itself.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Optional

import pytest
from serving import REPO, TwistdProcess

#: Where a browser may be, in order: Debian's ``chromium`` package first.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> Optional[str]:
    """The Chromium (or Chrome) binary, or None."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def renderedPage(browser: str, url: str, profile: Path) -> str:
    """
    The DOM of ``url`` once the page's fetch has settled, as headless
    Chromium dumps it: ``--virtual-time-budget`` lets the page run (its
    network requests included) until it is idle or the budget is spent.
    """
    result = subprocess.run(
        [
            browser, "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            # The sandbox needs user namespaces, which containers (and root) often lack;
            # the page is our own, on loopback.
            "--no-sandbox",
            f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--dump-dom", url,
        ],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env=dict(os.environ, HOME=str(profile)),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def outputs(dom: str) -> Dict[str, str]:
    """The text of each ``<output id=...>`` of the dumped page."""
    return {name: html.unescape(text) for name, text in re.findall(r'<output id="(\w+)">(.*?)</output>', dom, re.S)}


def test_examplePagePassesInChromium(tmp_path: Path) -> None:
    """
    In headless Chromium, the example page's fetch of
    ``resources/example.py?content-type=text/foobar`` sees status 200, the
    status text "my status text", Content-Type text/foobar and the body
    "my response content", and the page says PASS.
    """
    browser = chromium()
    if browser is None:
        pytest.skip(
            "no Chromium found (looked for " + ", ".join(BROWSERS) + "); "
            "apt-get install chromium chromium-driver, as .ci/run does"
        )
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
