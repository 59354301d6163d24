"""
A minimal W3C WebDriver client for the browser tests that must wait for a
page's scripts and workers (``--dump-dom`` dumps before a shared or service
worker has answered): ``chromedriver`` on a free loopback port, one headless
Chromium session, and the three commands the tests use (open a URL, run a
script, end the session), spoken as plain JSON over HTTP.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import pytest


def requireChromedriver() -> str:
    """The chromedriver binary, or skip the test saying how to install it."""
    found = shutil.which("chromedriver")
    if found is None:
        pytest.skip("no chromedriver found; apt-get install chromium chromium-driver, as .ci/run does")
    return found


def _freePort() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ChromiumSession:
    """
    One headless Chromium, driven through chromedriver.

    :param profile: the browser's profile directory.
    :param arguments: extra Chromium switches.
    """

    def __init__(self, profile: Path, arguments: Sequence[str] = ()) -> None:
        driver = requireChromedriver()
        port = _freePort()
        self._base = f"http://127.0.0.1:{port}"
        self._driver = subprocess.Popen(
            [driver, f"--port={port}"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._session: Optional[str] = None
        try:
            self._waitReady()
            switches = [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                f"--user-data-dir={profile}", *arguments,
            ]
            answer = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": switches}}}})
            self._session = answer["sessionId"]
        except BaseException:
            self.close()
            raise

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            self._base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["value"]

    def _waitReady(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                if self._call("GET", "/status").get("ready"):
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, "chromedriver did not start"
            time.sleep(0.1)

    def open(self, url: str) -> None:
        """Load ``url`` in the session's window."""
        self._call("POST", f"/session/{self._session}/url", {"url": url})

    def run(self, script: str, *arguments: Any) -> Any:
        """The value of ``script`` (a function body) run in the page with ``arguments``."""
        return self._call("POST", f"/session/{self._session}/execute/sync", {"script": script, "args": list(arguments)})

    def waitFor(self, script: str, timeout: float = 60, accept: Callable[[Any], bool] = bool) -> Any:
        """Run ``script`` until its value is accepted (truthy by default); that value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.run(script)
            if accept(value):
                return value
            assert time.monotonic() < deadline, f"gave up waiting; last value {value!r}"
            time.sleep(0.2)

    def close(self) -> None:
        """End the session and chromedriver."""
        try:
            if self._session is not None:
                self._call("DELETE", f"/session/{self._session}")
        finally:
            self._session = None
            self._driver.terminate()
            self._driver.wait(timeout=30)
