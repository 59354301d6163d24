"""
``wpt serve``'s own config: its defaults, and how it merges a config file
over them.

``wpt serve --config FILE`` never takes a file as the whole config: its
``ConfigBuilder`` starts from defaults (``web-platform.test``, the alternate
host ``not-web-platform.test``, the ``www``/``www1``/... subdomains, a port
list for every scheme) and the file changes only what it names
(``tools/serve/serve.py`` ``build_config``, ``tools/wptserve/wptserve/config.py``
``ConfigBuilder.update``): a key whose default is an object (``ports``,
``alternate_hosts``) is merged key by key, any other key replaces the
default, and the old names (``host``, ``bind_hostname``, ``external_host``,
``host_ip``) are read as the new ones.  A config file names neither
``subdomains`` nor ``not_subdomains`` (wpt serve refuses them): they are
always wpt's.

``twistd pyhandlers --all-ports`` reads its config the same way, so the same
file gives the same origins.  Pure functions over dicts; the file is read
by :func:`readConfigFile` at start-up.
"""

from __future__ import annotations

import copy
import json
import os
from itertools import chain, product
from typing import Any, Dict, List, Mapping, Optional, Tuple

_SUBDOMAINS = ("www", "www1", "www2", "天気の良い日", "élève")
_NOT_SUBDOMAINS = ("nonexistent",)


def _subdomainsProduct(labels: Tuple[str, ...], depth: int = 2) -> List[str]:
    # As wpt's serve.py: every label and every pair of labels ("www1.www").
    return sorted({".".join(p) for p in chain.from_iterable(product(labels, repeat=i) for i in range(1, depth + 1))})


#: The topology ``wpt serve`` uses when its config names nothing else (wpt's
#: ``tools/serve/serve.py`` defaults, with its h2 port): the one
#: ``--all-ports`` starts from.  The address-space ports are named both ways
#: wpt has named them: ``-private`` (until 2025) and ``-local`` (since), so
#: that the templates of a checkout of either age find theirs.
WPT_DEFAULT_CONFIG: Dict[str, Any] = {
    "browser_host": "web-platform.test",
    "alternate_hosts": {"alt": "not-web-platform.test"},
    "subdomains": _subdomainsProduct(_SUBDOMAINS),
    "not_subdomains": _subdomainsProduct(_NOT_SUBDOMAINS),
    "ports": {
        "http": [8000, "auto"],
        "http-private": ["auto"],
        "http-local": ["auto"],
        "http-public": ["auto"],
        "https": [8443, 8444],
        "https-private": ["auto"],
        "https-local": ["auto"],
        "https-public": ["auto"],
        "h2": [9000],
        "ws": ["auto"],
        "wss": ["auto"],
        "webtransport-h3": [11000],
    },
    "bind_address": True,
    "aliases": [],
}

#: Old key names wpt serve still reads, applied after the others (so
#: ``host`` beats ``browser_host`` when a file has both, as there).
_RENAMED = (
    ("host", "browser_host"),
    ("bind_hostname", "bind_address"),
    ("external_host", "server_host"),
    ("host_ip", "server_host"),
)


def readConfigFile(path: str) -> Dict[str, Any]:
    """
    The JSON object of a config file.  Blocking file I/O: start-up only.

    :raises ValueError: naming the file, for unreadable JSON or anything
        but an object.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"Config file {path}: not valid JSON: {e}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"Config file {path}: cannot be read: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"Config file {path}: a config must be a JSON object, not {type(data).__name__}")
    return data


def mergeConfig(base: Mapping[str, Any], override: Mapping[str, Any]) -> Dict[str, Any]:
    """
    ``override`` (a config file's object) merged over ``base`` as wpt
    serve's ``ConfigBuilder.update`` does: where ``base`` holds an object,
    the two are merged key by key (recursively); anything else is replaced;
    old names are read as their new ones.  Keys ``base`` does not have are
    added (wpt serve refuses them; we keep them for handlers to read), and
    so are the object keys it does not have (a scheme or an alternate host
    of the file's own, which wpt serve's merge would drop).

    :raises ValueError: where the file gives a non-object for an object.
    """
    merged: Dict[str, Any] = copy.deepcopy(dict(base))
    renamed = dict(_RENAMED)
    for key, value in override.items():
        if key not in renamed:
            _setOverride(merged, key, value)
    for old, new in _RENAMED:
        if old in override:
            _setOverride(merged, new, override[old])
    return merged


def _setOverride(data: Dict[str, Any], key: str, value: Any) -> None:
    old = data.get(key)
    if isinstance(old, dict):
        data[key] = _mergeObjects(key, old, value)
    else:
        data[key] = copy.deepcopy(value)


def _mergeObjects(key: str, base: Dict[str, Any], override: Any) -> Dict[str, Any]:
    if not isinstance(override, Mapping):
        raise ValueError(f"{key} must be an object, not {override!r}")
    merged = dict(base)
    for name, value in override.items():
        old = base.get(name)
        merged[name] = _mergeObjects(f"{key}.{name}", old, value) if isinstance(old, dict) else copy.deepcopy(value)
    return merged


def domainsAreDistinct(a: str, b: str) -> bool:
    """
    Whether neither host name is the other or ends the other (wpt serve's
    ``domains_are_distinct``): the alternate host must not share the main
    host's last labels.
    """
    aParts, bParts = a.split("."), b.split(".")
    shortest = min(len(aParts), len(bParts))
    return aParts[-shortest:] != bParts[-shortest:]


def wptServeConfig(
    root: str, configFile: Optional[str], host: Optional[str] = None
) -> Tuple[Dict[str, Any], List[str]]:
    """
    The config ``wpt serve`` would build for the checkout ``root``: its
    defaults, the checkout's own ``config.json`` merged over them when it
    has one (as ``wpt serve`` does), then ``configFile``, then ``host`` (the
    command line's ``--host``) as ``browser_host``.  Returns the dict and
    one line per file merged, for the start-up log.  Start-up only (reads
    files).

    :raises ValueError: naming the file, for a bad file, or for an
        alternate host that is not distinct from the main one.
    """
    data = copy.deepcopy(WPT_DEFAULT_CONFIG)
    merged: List[str] = []
    checkoutConfig = os.path.join(root, "config.json")
    paths = [checkoutConfig] if os.path.isfile(checkoutConfig) else []
    if configFile is not None and not (paths and os.path.realpath(configFile) == os.path.realpath(checkoutConfig)):
        paths.append(configFile)
    for path in paths:
        try:
            data = mergeConfig(data, readConfigFile(path))
        except ValueError as e:
            message = str(e)
            prefix = f"Config file {path}: "
            raise ValueError(message if message.startswith(prefix) else prefix + message) from e
        merged.append(f"config: {path} merged over wpt serve's defaults")
    if host is not None:
        data["browser_host"] = host
    alternate = data.get("alternate_hosts", {}).get("alt") if isinstance(data.get("alternate_hosts"), dict) else None
    if isinstance(alternate, str) and isinstance(data.get("browser_host"), str):
        if not domainsAreDistinct(data["browser_host"], alternate):
            raise ValueError(
                f"the alternate host {alternate!r} must be distinct from the browser host {data['browser_host']!r}"
            )
    return data, merged
