"""
A config file over ``wpt serve``'s defaults: ``--all-ports --config FILE``
merges the file over wpt's own defaults as ``wpt serve --config FILE`` does
(subdomains, the alternate host and a port for every scheme the file leaves
out), so the ``.sub.`` files of a checkout find every name and port they
use; plain ``--config`` takes the file as written.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from serving import TopologyProcess

from twisted_pyhandlers._topology import planTopology
from twisted_pyhandlers._wptconfig import WPT_DEFAULT_CONFIG, domainsAreDistinct, mergeConfig, wptServeConfig
from twisted_pyhandlers.config import ServerConfig
from twisted_pyhandlers.tap import OptionError, Options

#: What get-host-info.sub.js and the cross-origin tests name.
SUB_TEMPLATE = (
    "{{host}} {{domains[www1]}} {{hosts[alt][]}} {{hosts[alt][www]}} "
    "{{ports[http][0]}} {{ports[https][0]}} {{ports[wss][0]}} {{ports[http-public][0]}}"
)


def test_mergeRules() -> None:
    """
    As wptserve's ConfigBuilder.update: objects (ports, alternate_hosts) are
    merged key by key, other keys replaced, old names read as new ones
    (after the others); keys of the file's own are kept.
    """
    merged = mergeConfig(
        WPT_DEFAULT_CONFIG,
        {
            "ports": {"http": [8001], "https": [9443]},
            "alternate_hosts": {"alt": "other.test", "more": "more.test"},
            "browser_host": "ignored.test",
            "host": "main.test",
            "bind_hostname": False,
            "extra": {"a": 1},
        },
    )
    assert merged["browser_host"] == "main.test"
    assert merged["bind_address"] is False
    assert merged["alternate_hosts"] == {"alt": "other.test", "more": "more.test"}
    assert merged["ports"]["http"] == [8001]
    assert merged["ports"]["https"] == [9443]
    assert merged["ports"]["h2"] == [9000]
    assert merged["ports"]["wss"] == ["auto"]
    assert merged["subdomains"] == WPT_DEFAULT_CONFIG["subdomains"]
    assert merged["extra"] == {"a": 1}
    assert WPT_DEFAULT_CONFIG["ports"]["http"] == [8000, "auto"]
    with pytest.raises(ValueError, match="ports must be an object"):
        mergeConfig(WPT_DEFAULT_CONFIG, {"ports": [8000]})


def test_domainsAreDistinct() -> None:
    """wpt serve refuses an alternate host that is, or ends, the main one."""
    assert domainsAreDistinct("web-platform.test", "not-web-platform.test")
    assert not domainsAreDistinct("web-platform.test", "web-platform.test")
    assert not domainsAreDistinct("a.web-platform.test", "web-platform.test")
    assert domainsAreDistinct("localhost", "not-web-platform.test")


def test_onlyHttpPortsNamed(tmp_path: Path) -> None:
    """
    A config naming only http ports (accepted as is by wpt serve) plans the
    https, h2, ws and wss ports of wpt's defaults too, so
    ``{{ports[https][0]}}`` is 8443 as on wpt serve.
    """
    (tmp_path / "config.json").write_text(json.dumps({"ports": {"http": [8080, 8081]}}))
    options = Options()
    options.parseOptions(["--root", str(tmp_path), "--config", str(tmp_path / "config.json"), "--all-ports"])
    planned = [(listener.scheme, listener.port) for listener in options.topology.listeners]
    assert ("http", 8080) in planned and ("http", 8081) in planned and ("http", 8000) not in planned
    assert ("https", 8443) in planned and ("https", 8444) in planned and ("h2", 9000) in planned
    config = options.topology.config
    assert config["domains"][""]["www1"] == "www1.web-platform.test"
    assert config["domains"]["alt"][""] == "not-web-platform.test"
    assert options.topology.notes == [f"config: {tmp_path / 'config.json'} merged over wpt serve's defaults"]
    assert planTopology(config, [], allPorts=True).listeners == options.topology.listeners


def test_checkoutConfigMerged(tmp_path: Path) -> None:
    """
    As wpt serve, the checkout's own config.json is merged first, then
    --config over it, then --host; an alternate host not distinct from the
    main one is a usage error.
    """
    (tmp_path / "config.json").write_text(json.dumps({"browser_host": "first.test", "ports": {"http": [8100]}}))
    (tmp_path / "mine.json").write_text(json.dumps({"browser_host": "second.test"}))
    data, notes = wptServeConfig(str(tmp_path), str(tmp_path / "mine.json"))
    assert data["browser_host"] == "second.test"
    assert data["ports"]["http"] == [8100]
    assert len(notes) == 2
    data, _ = wptServeConfig(str(tmp_path), None, host="third.test")
    assert data["browser_host"] == "third.test"
    with pytest.raises(OptionError, match="must be distinct from the browser host"):
        Options().parseOptions(["--root", str(tmp_path), "--all-ports", "--host", "not-web-platform.test"])


def test_plainConfigTakenAsWritten(tmp_path: Path) -> None:
    """
    Without --all-ports, --config is the file as written: nothing of wpt's
    defaults is added (no subdomains, no alternate host, no other ports).
    """
    (tmp_path / "config.json").write_text(json.dumps({"browser_host": "web-platform.test"}))
    options = Options()
    options.parseOptions(["--root", str(tmp_path), "--config", str(tmp_path / "config.json")])
    config = options.topology.config
    assert config["domains"] == {"": {"": "web-platform.test"}}
    assert config.declaredPorts() == {}


def test_wptConfigOverRealSockets(tmp_path: Path) -> None:
    """
    A config file wpt serve takes as it is (host and the ports of the fixed
    schemes, "auto" so the test can run anywhere) with --all-ports: the
    schemes it leaves out listen too, and a ``.sub.`` file naming
    ``{{domains[www1]}}``, ``{{hosts[alt][]}}``, ``{{ports[https][0]}}``,
    ``{{ports[wss][0]}}`` and ``{{ports[http-public][0]}}`` answers 200 with
    the real names and ports on every http port; wpt serve's routes are
    on (/tools/ is refused).
    """
    root = tmp_path / "root"
    (root / "common").mkdir(parents=True)
    (root / "common" / "names.sub.txt").write_text(SUB_TEMPLATE)
    (root / "tools").mkdir()
    (root / "tools" / "secret.txt").write_text("tooling")
    config = {
        "browser_host": "web-platform.test",
        "ports": {"http": ["auto", "auto"], "https": ["auto", "auto"], "h2": ["auto"]},
        "check_subdomains": False,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    server = TopologyProcess(tmp_path, "--root", str(root), "--config", "config.json", "--all-ports", "--tls-dir", "tls")
    server.start(origins=13)
    try:
        ports = {scheme: server.ports(scheme) for scheme in ("http", "https", "wss", "http-public", "http-local")}
        assert all(ports.values()), server.text()
        expected = (
            f"web-platform.test www1.web-platform.test not-web-platform.test www.not-web-platform.test "
            f"{ports['http'][0]} {ports['https'][0]} {ports['wss'][0]} {ports['http-public'][0]}"
        )
        for port in ports["http"] + ports["http-public"] + ports["http-local"]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/common/names.sub.txt", timeout=20) as answer:
                assert answer.status == 200
                assert answer.read().decode() == expected
        # --all-ports turns wpt serve's routes on.
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"http://127.0.0.1:{ports['http'][0]}/tools/secret.txt", timeout=20)
        assert error.value.code == 404
    finally:
        server.stop()


def test_defaultConfigIsAServerConfig() -> None:
    """wpt's defaults make a valid ServerConfig whose ports keep their "auto" places."""
    config = ServerConfig.fromDict(WPT_DEFAULT_CONFIG)
    assert config.declaredPorts()["http-local"] == ["auto"]
    assert config["aliases"] == []
