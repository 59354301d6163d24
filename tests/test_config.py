"""
Tests for :mod:`twisted_pyhandlers.config`: the server config handlers see
as ``request.server.config``, its derived domains pinned against wptserve's
own ``ConfigBuilder``, the config file, and the merging of listened ports.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

from twisted_pyhandlers.config import ConfigKeyError, ServerConfig, schemeForEndpoint

SUBDOMAINS = ["www", "www1", "www2", "天気の良い日", "élève"]
NOT_SUBDOMAINS = ["nonexistent"]

#: A config like the one web-platform-tests' own server runs with.
WPT_LIKE: Dict[str, Any] = {
    "browser_host": "web-platform.test",
    "alternate_hosts": {"alt": "not-web-platform.test"},
    "ports": {"http": [8000, 8001], "https": [8443], "ws": [8888]},
    "subdomains": SUBDOMAINS,
    "not_subdomains": NOT_SUBDOMAINS,
}


def wptserveConfig(**kwargs: Any) -> Any:
    """The Config wptserve's own ConfigBuilder derives from the same input."""
    wptconfig = pytest.importorskip("wptserve.config")
    data = dict(kwargs)
    subdomains = set(data.pop("subdomains", ()))
    notSubdomains = set(data.pop("not_subdomains", ()))
    builder = wptconfig.ConfigBuilder(
        logging.getLogger("test_config"),
        subdomains=subdomains,
        not_subdomains=notSubdomains,
        **data,
    )
    with builder as config:
        return config


@pytest.mark.parametrize(
    "data",
    [
        WPT_LIKE,
        {"browser_host": "localhost", "subdomains": ["www"], "ports": {"http": [8000]}},
        {"browser_host": "localhost", "ports": {"http": [8000]}},
        {
            "browser_host": "localhost",
            "server_host": "127.0.0.1",
            "alternate_hosts": {"alt": "127.0.0.1", "other": "example.test"},
            "subdomains": ["www", "élève"],
            "not_subdomains": ["nonexistent", "天気"],
            "ports": {"http": [8000]},
        },
    ],
    ids=["wpt-like", "one-subdomain", "no-subdomains", "alternates-and-server-host"],
)
def test_derivedKeysMatchWptserve(data: Dict[str, Any]) -> None:
    """
    domains, not_domains, all_domains, their *_set forms, server_host and
    browser_host are exactly what wptserve's ConfigBuilder derives
    (IDNA-encoded subdomains, "" for the main host, alternate hosts by key).
    """
    theirs = wptserveConfig(**data)
    ours = ServerConfig.fromDict(data)
    for key in (
        "browser_host",
        "server_host",
        "alternate_hosts",
        "domains",
        "not_domains",
        "all_domains",
        "domains_set",
        "not_domains_set",
        "all_domains_set",
        "subdomains",
        "not_subdomains",
    ):
        assert ours[key] == theirs[key], key
        assert getattr(ours, key) == getattr(theirs, key), key
    # wptserve drops https/wss ports when it has no TLS set up itself; we
    # keep them, since they may be served by another process (a listed
    # difference).
    plain = {k: v for k, v in ours["ports"].items() if k not in ("https", "wss")}
    assert plain == dict(theirs["ports"])


def test_idnaSubdomains() -> None:
    """
    Non-ASCII subdomains are IDNA-encoded in domain names, keyed by their
    Unicode label.
    """
    config = ServerConfig("web-platform.test", subdomains=["élève", "天気の良い日"])
    assert config["domains"][""]["élève"] == "xn--lve-6lad.web-platform.test"
    assert (
        config["domains"][""]["天気の良い日"]
        == "xn--n8j6ds53lwwkrqhv28a.web-platform.test"
    )


def test_defaults() -> None:
    """With no input: localhost, no ports yet, the main host as its only domain."""
    config = ServerConfig()
    assert config["browser_host"] == "localhost"
    assert config.server_host == "localhost"
    assert dict(config["ports"]) == {}
    assert config["domains"] == {"": {"": "localhost"}}
    assert config["all_domains"] == {"": {"": "localhost"}}
    assert config["domains_set"] == {"localhost"}


def test_mappingAndAttributes() -> None:
    """
    The config is a read-only mapping and also answers the same keys as
    attributes, as wptserve's Config does.
    """
    config = ServerConfig.fromDict(WPT_LIKE)
    assert config["ports"]["http"][0] == 8000
    assert config.ports["https"] == [8443]
    assert config.get("domains") is config["domains"]
    assert config.get("no such key") is None
    assert config.get("no such key", 5) == 5
    assert "ports" in config
    assert "no such key" not in config
    assert {
        "browser_host",
        "server_host",
        "ports",
        "domains",
        "all_domains",
        "doc_root",
    } <= set(config)
    assert len(config) == len(list(config))
    assert dict(config.items())["browser_host"] == "web-platform.test"


def test_missingKey() -> None:
    """
    A missing key is a KeyError for mapping code and a ValueError for code
    written against wptserve (whose Config raises ValueError); a missing
    attribute is an AttributeError.
    """
    config = ServerConfig()
    with pytest.raises(KeyError):
        config["nope"]
    with pytest.raises(ValueError):
        config["nope"]
    with pytest.raises(ConfigKeyError):
        config["nope"]
    with pytest.raises(AttributeError):
        _ = config.nope


def test_immutable() -> None:
    """
    Handlers cannot change the config: item and attribute assignment raise
    ValueError.
    """
    config = ServerConfig()
    with pytest.raises(ValueError):
        config["browser_host"] = "evil"  # type: ignore[index]
    with pytest.raises(ValueError):
        config.browser_host = "evil"
    assert config["browser_host"] == "localhost"


def test_unservedSchemeReadsEmpty() -> None:
    """
    ports[scheme] for a scheme nobody serves is [] (as from wptserve's
    defaultdict), without inserting it.
    """
    config = ServerConfig(ports={"http": [80]})
    assert config["ports"]["wss"] == []
    assert "wss" not in config["ports"]


def test_addListeningPort() -> None:
    """
    Ports this server listens on are merged in: appended after the file's,
    filling "auto" places first, never listed twice.
    """
    config = ServerConfig(ports={"http": [8000, "auto"], "https": [8443]})
    assert config["ports"]["http"] == [8000]
    config.addListeningPort("http", 41000)
    assert config["ports"]["http"] == [8000, 41000]
    config.addListeningPort("http", 41001)
    config.addListeningPort("http", 8000)
    assert config["ports"]["http"] == [8000, 41000, 41001]
    config.addListeningPort("h2", 9000)
    assert config["ports"]["h2"] == [9000]
    assert config["ports"]["https"] == [8443]


def test_addListeningPortPublishesSnapshot() -> None:
    """
    Adding a port publishes a new snapshot: a dict a handler already holds
    does not change under it, the next read sees the new port.
    """
    config = ServerConfig(ports={"http": [8000]})
    held = config["ports"]
    config.addListeningPort("http", 9000)
    assert held["http"] == [8000]
    assert config["ports"]["http"] == [8000, 9000]


@pytest.mark.parametrize("port", [0, -1, 65536, "80", True, None])
def test_addListeningPortInvalid(port: Any) -> None:
    """Only ports 1-65535 as int can be recorded."""
    with pytest.raises(ValueError):
        ServerConfig().addListeningPort("http", port)


def test_concurrentReadsDuringMerge() -> None:
    """
    Handler threads reading while ports are merged always see a complete,
    consistent config (every port list is one that was published).
    """
    config = ServerConfig(ports={"http": []})
    stop = threading.Event()
    seen: List[int] = []
    errors: List[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                ports = config["ports"]["http"]
                assert ports == list(range(20000, 20000 + len(ports)))
                seen.append(len(ports))
        except BaseException as e:
            errors.append(e)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for r in readers:
        r.start()
    for port in range(20000, 20300):
        config.addListeningPort("http", port)
    stop.set()
    for r in readers:
        r.join(60)
    assert errors == []
    assert config["ports"]["http"] == list(range(20000, 20300))


def test_fromFile(tmp_path: Path) -> None:
    """
    A wptserve-style JSON file declares hosts, sub-domains and the ports
    of every server of a suite (other processes' included); unknown keys
    are kept for handlers to read.
    """
    data = dict(
        WPT_LIKE,
        aliases=[{"url-path": "/x/", "local-dir": "y"}],
        check_subdomains=False,
    )
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    config = ServerConfig.fromFile(str(path))
    assert config["browser_host"] == "web-platform.test"
    assert config["ports"]["ws"] == [8888]
    assert config["domains"]["alt"]["www2"] == "www2.not-web-platform.test"
    assert config["all_domains"][""]["nonexistent"] == "nonexistent.web-platform.test"
    assert config["aliases"] == [{"url-path": "/x/", "local-dir": "y"}]
    assert config["check_subdomains"] is False


def test_fromFileRenamedKeys(tmp_path: Path) -> None:
    """The old names wptserve still reads ("host", "external_host") are honoured."""
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps({"host": "old.test", "external_host": "10.0.0.1"}), encoding="utf-8"
    )
    config = ServerConfig.fromFile(str(path))
    assert config["browser_host"] == "old.test"
    assert config["server_host"] == "10.0.0.1"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"ports": {"http": ["eighty"]}}', "invalid port"),
        ('{"ports": {"http": [70000]}}', "invalid port"),
        ('{"ports": [8000]}', "ports must be"),
        ('{"subdomains": "www"}', "subdomains must be a list"),
        ('{"subdomains": 5}', "subdomains must be a list"),
        ('{"not_subdomains": {"a": 1}}', "not_subdomains must be a list"),
        ('{"alternate_hosts": {"": "x"}}', "alternate_hosts keys"),
        ('{"browser_host": ""}', "browser_host"),
        ('{"domains": {}}', "derived"),
        ('{"_private": 1}', "Invalid configuration key"),
    ],
)
def test_fromFileErrors(tmp_path: Path, content: str, message: str) -> None:
    """A malformed config file is a ValueError naming the file and the problem."""
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        ServerConfig.fromFile(str(path))
    assert str(path) in str(info.value)


def test_fromOptions(tmp_path: Path) -> None:
    """
    --host overrides the file's browser_host; the document root fills
    doc_root unless the file names one; without a file, --host alone.
    """
    path = tmp_path / "config.json"
    path.write_text(json.dumps(WPT_LIKE), encoding="utf-8")
    config = ServerConfig.fromOptions(str(path), host="example.test", docRoot="/srv")
    assert config["browser_host"] == "example.test"
    assert config["domains"][""]["www"] == "www.example.test"
    assert config["doc_root"] == "/srv"
    assert config["ports"]["http"] == [8000, 8001]
    plain = ServerConfig.fromOptions(None, host="h.test", docRoot="/srv")
    assert plain["browser_host"] == "h.test"
    assert plain["doc_root"] == "/srv"
    assert ServerConfig.fromOptions()["browser_host"] == "localhost"


def test_asDict() -> None:
    """as_dict gives JSON types (sets as sorted lists), as wptserve's does."""
    config = ServerConfig("h.test", subdomains=["www"])
    data = config.as_dict()
    json.dumps(data)
    assert data["domains_set"] == ["h.test", "www.h.test"]


@pytest.mark.parametrize(
    "description, scheme",
    [
        ("tcp:0:interface=127.0.0.1", "http"),
        ("ssl:8443:privateKey=k.pem", "https"),
        ("TLS:8443", "https"),
        ("unix:/tmp/s", "http"),
    ],
)
def test_schemeForEndpoint(description: str, scheme: str) -> None:
    """The scheme a listening endpoint's port is recorded under."""
    assert schemeForEndpoint(description) == scheme


_SHOW_CONFIG = """
import json
import os

def main(request, response):
    config = request.server.config
    response.headers.set("Content-Type", "application/json")
    return json.dumps({
        "browser_host": config["browser_host"],
        "server_host": config.server_host,
        "ports": config["ports"],
        "domains": config.domains,
        "all_domains": config["all_domains"],
        "doc_root": config["doc_root"],
    })
"""


def test_commandLineConfig(tmp_path: Path) -> None:
    """
    ``pyhandlers --config FILE --host NAME`` listening on port 0: handlers
    see the file's sub-domains, alternate hosts and other processes' ports,
    --host as browser_host, and the port the system chose merged into
    ports["http"].
    """
    from redisserver import PyhandlersProcess

    root = tmp_path / "root"
    root.mkdir()
    (root / "showconfig.py").write_text(_SHOW_CONFIG)
    configFile = tmp_path / "config.json"
    configFile.write_text(
        json.dumps(
            {
                "browser_host": "from-file.test",
                "subdomains": ["www", "élève"],
                "not_subdomains": ["nonexistent"],
                "alternate_hosts": {"alt": "127.0.0.1"},
                "ports": {"http": [8000], "https": [8443]},
            }
        ),
        encoding="utf-8",
    )
    server = PyhandlersProcess(
        str(root), "--config", str(configFile), "--host", "localhost"
    )
    server.start()
    try:
        status, body = server.get("/showconfig.py")
    finally:
        server.stop()
    assert status == 200, body
    seen = json.loads(body)
    assert seen["browser_host"] == "localhost"
    assert seen["server_host"] == "localhost"
    assert seen["ports"] == {"http": [8000, server.port], "https": [8443]}
    assert seen["domains"][""] == {
        "": "localhost",
        "www": "www.localhost",
        "élève": "xn--lve-6lad.localhost",
    }
    assert seen["domains"]["alt"]["www"] == "www.127.0.0.1"
    assert seen["all_domains"][""]["nonexistent"] == "nonexistent.localhost"
    assert seen["doc_root"] == os.path.realpath(root)


def test_commandLineDefaults(tmp_path: Path) -> None:
    """Without --config or --host: localhost and the one port really listened on."""
    from redisserver import PyhandlersProcess

    root = tmp_path / "root"
    root.mkdir()
    (root / "showconfig.py").write_text(_SHOW_CONFIG)
    server = PyhandlersProcess(str(root))
    server.start()
    try:
        status, body = server.get("/showconfig.py")
    finally:
        server.stop()
    assert status == 200, body
    seen = json.loads(body)
    assert seen["browser_host"] == "localhost"
    assert seen["ports"] == {"http": [server.port]}
    assert seen["domains"] == {"": {"": "localhost"}}


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--config", "{missing}"], "cannot be read"),
        (["--config", "{bad}"], "not valid JSON"),
        (["--stash", "mongodb://x"], "Unsupported stash URL"),
        (["--stash", "redis://127.0.0.1:notaport/0"], "Invalid stash URL"),
    ],
)
def test_commandLineErrors(tmp_path: Path, arguments: List[str], message: str) -> None:
    """
    A bad --config file or --stash URL is a usage error naming the problem,
    found before serving.
    """
    from twisted_pyhandlers.tap import OptionError, Options

    bad = tmp_path / "bad.json"
    bad.write_text("{nope", encoding="utf-8")
    arguments = [
        a.format(missing=tmp_path / "missing.json", bad=bad) for a in arguments
    ]
    with pytest.raises(OptionError, match=message):
        Options().parseOptions(["--root", str(tmp_path), *arguments])
