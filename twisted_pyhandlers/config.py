"""
The server config: ``request.server.config``, and what ``.sub.`` templates
read (``{{host}}``, ``{{domains[www]}}``, ``{{hosts[alt][]}}``,
``{{ports[http][0]}}``).

Test suites span several servers: other ports, other processes, other host
names (``www.HOST``, ``www2.HOST``, an alternate host beside the main one).
A handler builds its cross-origin URLs from this config, so it has to
describe all of them, not just the socket the request came in on.  It is
built from a wptserve-style JSON file (``--config``), a host name
(``--host``) and the ports this server really listens on, which are merged
in once the endpoints listen (including ports the system chose for
``port 0``).

Handlers use wptserve's ``Config`` both as a mapping
(``config["ports"]["http"][0]``, ``config.get("domains")``, ``"ports" in
config``) and through attributes (``config.server_host``); this class does
both, and derives ``domains``, ``not_domains``, ``all_domains`` and their
``*_set`` forms by the rules of wptserve's ``ConfigBuilder``.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Dict, Iterable, List, Optional, Set, Union

__all__ = ["ConfigKeyError", "ServerConfig", "schemeForEndpoint"]

# Old names wptserve still accepts in a config, and the names they became.
_RENAMED = {
    "host": "browser_host",
    "bind_hostname": "bind_address",
    "external_host": "server_host",
    "host_ip": "server_host",
}

# Keys that are derived from the others and cannot be set in a file.
_COMPUTED = frozenset(
    {
        "paths",
        "domains",
        "not_domains",
        "all_domains",
        "domains_set",
        "not_domains_set",
        "all_domains_set",
    }
)

Port = Union[int, str]


class ConfigKeyError(KeyError, ValueError):
    """
    A missing config key.  A :class:`KeyError`, so that ``config.get()``
    and ``in`` behave as for any mapping, and a :class:`ValueError`, which
    is what wptserve's ``Config`` raises, so handlers written against it
    keep catching it.
    """


class _Ports(Dict[str, List[int]]):
    """
    Ports by scheme.  A scheme nobody serves reads as an empty list, as it
    does from wptserve's ``defaultdict(list)``, but reading never inserts,
    so the published dict stays unchanged while other threads read it.
    """

    def __missing__(self, key: str) -> List[int]:
        return []


def schemeForEndpoint(description: str) -> str:
    """
    The URL scheme a server endpoint string serves: ``https`` for ``ssl:``
    and ``tls:`` endpoints, ``http`` for everything else (``tcp:``,
    ``unix:``, ``systemd:``, ...).
    """
    kind = description.split(":", 1)[0].strip().lower()
    return "https" if kind in ("ssl", "tls") else "http"


def _idnaLabel(subdomain: str) -> str:
    # wptserve: subdomain.encode("idna").decode("ascii") -- Python's IDNA
    # 2003 codec, so "élève" becomes "xn--lve-6lad".
    return subdomain.encode("idna").decode("ascii")


def _domainsFor(
    hosts: Mapping[str, str], subdomains: Iterable[str], withMain: bool
) -> Dict[str, Dict[str, str]]:
    subs = list(subdomains)
    rv: Dict[str, Dict[str, str]] = {}
    for name, host in hosts.items():
        rv[name] = {sub: f"{_idnaLabel(sub)}.{host}" for sub in subs}
        if withMain:
            rv[name][""] = host
    return rv


class ServerConfig(Mapping[str, Any]):
    """
    What ``request.server.config`` is: an immutable mapping, readable from
    any thread, with attribute access to the same keys.

    The ports really listened on are merged in by :meth:`addListeningPort`
    on the reactor thread at startup; it publishes a new snapshot instead of
    changing the old one, so a handler thread never sees a half-updated
    config and dicts it already holds do not change under it.

    :param browserHost: the main host name handed to handlers and templates
        (``{{host}}``); wptserve's ``browser_host``.
    :param serverHost: the host name the server is reached at, when it is
        not ``browserHost`` (wptserve's ``server_host``).
    :param ports: ports by scheme (``{"http": [8000, 8001], "https":
        [8443]}``), including ports other processes serve; ``"auto"`` in a
        list is a place filled by the next port this server listens on for
        that scheme.
    :param subdomains: sub-domain labels that resolve (``www``, ``www2``,
        ``天気の良い日``); ``domains[sub]`` is ``sub.HOST``, IDNA-encoded.
    :param notSubdomains: labels that deliberately do not resolve
        (``nonexistent``), in ``all_domains`` but not ``domains``.
    :param alternateHosts: other host names by key (``{"alt":
        "127.0.0.1"}``), each with its own domains.
    :param docRoot: the document root handlers see as ``doc_root``.
    :param extra: any other keys to expose unchanged (keys from a config
        file that this server does not interpret, such as ``ssl`` or
        ``aliases``).
    """

    def __init__(
        self,
        browserHost: str = "localhost",
        *,
        serverHost: Optional[str] = None,
        ports: Optional[Mapping[str, Iterable[Port]]] = None,
        subdomains: Iterable[str] = (),
        notSubdomains: Iterable[str] = (),
        alternateHosts: Optional[Mapping[str, str]] = None,
        docRoot: Optional[str] = None,
        extra: Optional[Mapping[str, Any]] = None,
    ) -> None:
        raw: Dict[str, Any] = {}
        for key, value in (extra or {}).items():
            _checkKey(key)
            if key in _COMPUTED:
                raise ValueError(f"Config key {key!r} is derived and cannot be set")
            raw[key] = copy.deepcopy(value)
        raw["browser_host"] = _checkHost("browser_host", browserHost)
        raw["server_host"] = (
            None if serverHost is None else _checkHost("server_host", serverHost)
        )
        raw["ports"] = _checkPorts(ports or {})
        raw["subdomains"] = _checkLabels("subdomains", subdomains)
        raw["not_subdomains"] = _checkLabels("not_subdomains", notSubdomains)
        raw["alternate_hosts"] = _checkAlternateHosts(alternateHosts or {})
        raw["doc_root"] = "" if docRoot is None else str(docRoot)
        object.__setattr__(self, "_mutex", threading.Lock())
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_data", _derive(raw))

    # -- construction -------------------------------------------------------

    @classmethod
    def fromDict(
        cls,
        data: Mapping[str, Any],
        *,
        browserHost: Optional[str] = None,
        docRoot: Optional[str] = None,
    ) -> ServerConfig:
        """
        Build a config from a wptserve-style dict (the parsed JSON file).
        ``browserHost`` and ``docRoot``, when given, override the dict (the
        command line beats the file).

        :raises ValueError: for a malformed value or a derived key.
        """
        if not isinstance(data, Mapping):
            raise ValueError(
                f"A config must be a JSON object, not {type(data).__name__}"
            )
        data = dict(data)
        for old, new in _RENAMED.items():
            if old in data:
                value = data.pop(old)
                data.setdefault(new, value)
        known = {
            "browser_host",
            "server_host",
            "ports",
            "subdomains",
            "not_subdomains",
            "alternate_hosts",
            "doc_root",
        }
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(
            browserHost
            if browserHost is not None
            else data.get("browser_host", "localhost"),
            serverHost=data.get("server_host"),
            ports=data.get("ports"),
            subdomains=data.get("subdomains", ()),
            notSubdomains=data.get("not_subdomains", ()),
            alternateHosts=data.get("alternate_hosts"),
            docRoot=docRoot if docRoot is not None else data.get("doc_root"),
            extra=extra,
        )

    @classmethod
    def fromFile(
        cls,
        path: str,
        *,
        browserHost: Optional[str] = None,
        docRoot: Optional[str] = None,
    ) -> ServerConfig:
        """
        Read a wptserve-style JSON config file (see :meth:`fromDict`).
        Blocking file I/O: call it at startup, not from the reactor while
        serving.

        :raises ValueError: naming the file, for unreadable JSON or a
            malformed value.
        """
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"Config file {path}: not valid JSON: {e}") from e
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"Config file {path}: cannot be read: {e}") from e
        try:
            return cls.fromDict(data, browserHost=browserHost, docRoot=docRoot)
        except ValueError as e:
            raise ValueError(f"Config file {path}: {e}") from e

    @classmethod
    def fromOptions(
        cls,
        configFile: Optional[str] = None,
        host: Optional[str] = None,
        docRoot: Optional[str] = None,
    ) -> ServerConfig:
        """
        The config for ``twistd pyhandlers --config FILE --host NAME``:
        the file's when given, with ``--host`` (when given) as its
        ``browser_host``, and the document root as ``doc_root`` unless the
        file names one.
        """
        if configFile is not None:
            config = cls.fromFile(configFile, browserHost=host)
            if docRoot is not None and not config["doc_root"]:
                config = config._replaced(doc_root=str(docRoot))
            return config
        return cls(host if host is not None else "localhost", docRoot=docRoot)

    def _replaced(self, **changes: Any) -> ServerConfig:
        raw = dict(self._raw)
        raw.update(changes)
        new = ServerConfig.__new__(ServerConfig)
        object.__setattr__(new, "_mutex", threading.Lock())
        object.__setattr__(new, "_raw", raw)
        object.__setattr__(new, "_data", _derive(raw))
        return new

    # -- the listening ports ------------------------------------------------

    def declaredPorts(self) -> Dict[str, List[Port]]:
        """
        The ports by scheme as declared, ``"auto"`` places (not yet filled
        by a listening port) included: what ``--all-ports`` listens on.
        """
        with self._mutex:
            return {k: list(v) for k, v in self._raw["ports"].items()}

    def withPorts(self, ports: Mapping[str, Iterable[Port]]) -> ServerConfig:
        """
        A copy of this config with the declared ports of the schemes in
        ``ports`` replaced (the other schemes kept).

        :raises ValueError: for a malformed port.
        """
        with self._mutex:
            merged: Dict[str, Iterable[Port]] = dict(self._raw["ports"])
        merged.update(ports)
        return self._replaced(ports=_checkPorts(merged))

    def addListeningPort(self, scheme: str, port: int) -> None:
        """
        Record that this server listens on ``port`` for ``scheme``; call it
        on the reactor thread once an endpoint listens (so a ``port 0``
        endpoint reports the port the system chose).

        A port already listed for the scheme is left where it is; otherwise
        it takes the place of the first ``"auto"`` in that scheme's list, or
        is appended.
        """
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ValueError(f"Invalid port {port!r}")
        with self._mutex:
            ports = {k: list(v) for k, v in self._raw["ports"].items()}
            current = ports.setdefault(scheme, [])
            if port not in current:
                if "auto" in current:
                    current[current.index("auto")] = port
                else:
                    current.append(port)
            raw = dict(self._raw)
            raw["ports"] = ports
            object.__setattr__(self, "_raw", raw)
            object.__setattr__(self, "_data", _derive(raw))

    # -- wptserve's Config API ----------------------------------------------

    def __getitem__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise ConfigKeyError(key) from None

    def __getattr__(self, key: str) -> Any:
        # Only called when normal lookup fails: methods win over keys.
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"ServerConfig has no key {key!r}") from None

    def __setattr__(self, key: str, value: object) -> None:
        raise ValueError("Config is immutable")

    def __setitem__(self, key: str, value: object) -> None:
        raise ValueError("Config is immutable")

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __str__(self) -> str:
        return str(self._data)

    def __repr__(self) -> str:
        return f"ServerConfig({self._data!r})"

    def as_dict(self) -> Dict[str, Any]:
        """The config as JSON types (sets become lists), like wptserve's."""
        return _jsonTypes(self._data)


def _checkKey(key: object) -> None:
    if not isinstance(key, str) or key.startswith("_"):
        raise ValueError(f"Invalid configuration key {key!r}")


def _checkHost(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, not {value!r}")
    return value


def _checkLabels(name: str, labels: Iterable[str]) -> Set[str]:
    if isinstance(labels, (str, bytes, Mapping)) or not isinstance(labels, Iterable):
        raise ValueError(f"{name} must be a list of strings, not {labels!r}")
    result = set()
    for label in labels:
        if not isinstance(label, str) or not label:
            raise ValueError(f"{name} must hold non-empty strings, not {label!r}")
        try:
            _idnaLabel(label)
        except UnicodeError as e:
            raise ValueError(f"{name}: {label!r} is not a valid host label: {e}") from e
        result.add(label)
    return result


def _checkAlternateHosts(hosts: Mapping[str, str]) -> Dict[str, str]:
    if not isinstance(hosts, Mapping):
        raise ValueError(f"alternate_hosts must be an object, not {hosts!r}")
    result = {}
    for key, host in hosts.items():
        if not isinstance(key, str) or key == "":
            raise ValueError(
                f"alternate_hosts keys must be non-empty strings, not {key!r}"
            )
        result[key] = _checkHost(f"alternate_hosts[{key!r}]", host)
    return result


def _checkPorts(ports: Mapping[str, Iterable[Port]]) -> Dict[str, List[Port]]:
    if not isinstance(ports, Mapping):
        raise ValueError(f"ports must be an object of lists by scheme, not {ports!r}")
    result: Dict[str, List[Port]] = {}
    for scheme, values in ports.items():
        if not isinstance(scheme, str) or not scheme:
            raise ValueError(f"ports keys must be scheme names, not {scheme!r}")
        if isinstance(values, int) and not isinstance(values, bool):
            values = [values]
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ValueError(f"ports[{scheme!r}] must be a list, not {values!r}")
        checked: List[Port] = []
        for port in values:
            if port == "auto":
                checked.append("auto")
            elif (
                isinstance(port, int)
                and not isinstance(port, bool)
                and 0 < port < 65536
            ):
                checked.append(port)
            else:
                raise ValueError(f"ports[{scheme!r}] holds an invalid port {port!r}")
        result[scheme] = checked
    return result


def _derive(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """
    The published data: ``raw`` plus the keys wptserve's ``ConfigBuilder``
    computes, by its rules.
    """
    data = dict(raw)
    data["server_host"] = (
        raw["server_host"] if raw["server_host"] is not None else raw["browser_host"]
    )
    data["paths"] = {"doc_root": raw["doc_root"]}
    ports = _Ports()
    for scheme, values in raw["ports"].items():
        # An "auto" place not yet filled by a listening port is not a port.
        ports[scheme] = [p for p in values if p != "auto"]
    data["ports"] = ports
    hosts = dict(raw["alternate_hosts"])
    hosts[""] = raw["browser_host"]
    data["domains"] = _domainsFor(hosts, sorted(raw["subdomains"]), withMain=True)
    data["not_domains"] = _domainsFor(
        hosts, sorted(raw["not_subdomains"]), withMain=False
    )
    allDomains = copy.deepcopy(data["domains"])
    for name in allDomains:
        allDomains[name].update(data["not_domains"][name])
    data["all_domains"] = allDomains
    data["domains_set"] = {
        d for perHost in data["domains"].values() for d in perHost.values()
    }
    data["not_domains_set"] = {
        d for perHost in data["not_domains"].values() for d in perHost.values()
    }
    data["all_domains_set"] = data["domains_set"] | data["not_domains_set"]
    return data


def _jsonTypes(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonTypes(v) for k, v in obj.items()}
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (set, frozenset)):
        return sorted(_jsonTypes(v) for v in obj)
    if isinstance(obj, (list, tuple)):
        return [_jsonTypes(v) for v in obj]
    return str(obj)
