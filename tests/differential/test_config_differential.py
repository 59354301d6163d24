"""
The server config against wptserve 4.0.3 (docs/state.rst): with the same
wptserve-style JSON config file, handlers and ``.sub.`` templates see the
same derived host names — ``domains``, ``not_domains``, ``all_domains``
(IDNA-encoded subdomains, alternate hosts) — on both servers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .harness import Harness

CONFIG_ROOT = Path(__file__).parent / "config_root"
CONFIG = CONFIG_ROOT / "config.json"


@pytest.fixture(scope="module")
def configHarness(wptserve_server: Callable[..., str], our_server: Callable[..., str]) -> Harness:
    """Both servers on ``config_root/`` with ``config_root/config.json``."""
    return Harness(wptserve_server(str(CONFIG_ROOT), str(CONFIG)), our_server(str(CONFIG_ROOT), str(CONFIG)))


def test_derivedDomains(configHarness: Harness) -> None:
    """A handler sees the same derived domains as on wptserve."""
    comparison = configHarness.assertSame("/domains.py")
    assert b"xn--lve-6lad.web-platform.test" in comparison.ours.body


def test_templateHosts(configHarness: Harness) -> None:
    """``{{domains[...]}}`` and ``{{hosts[...][...]}}`` substitute the same names."""
    comparison = configHarness.assertSame("/hosts.sub.txt")
    assert b"alt-www=www.not-web-platform.test" in comparison.ours.body
