"""
The host names of a config, for the machine and for Chromium.

``python -m twisted_pyhandlers.hosts`` prints the hosts-file lines for every
name the config serves, as ``wpt make-hosts-file`` does (the same block,
the same order, ``127.0.0.1`` unless ``--address`` says otherwise), from
the config ``twistd pyhandlers --all-ports`` would build with the same
``--root``, ``--config`` and ``--host``::

    python -m twisted_pyhandlers.hosts --root ~/wpt | sudo tee -a /etc/hosts

``--chromium`` prints, instead, the Chromium switches that reach every
origin from the browser alone: ``--host-resolver-rules`` mapping every name,
and, with ``--tls-dir`` (the server's, where its made certificate is kept),
``--ignore-certificate-errors-spki-list`` with its pin.  The twistd plugin
logs the same switches at start-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from typing import Iterable, List, Optional, Sequence

from twisted_pyhandlers._certificates import SERVER_CERT_FILE, SERVER_KEY_FILE, CertificateError, loadServerCertificate
from twisted_pyhandlers._wptconfig import wptServeConfig
from twisted_pyhandlers.config import ServerConfig

__all__ = ["chromiumSwitches", "hostResolverRules", "hostsFile", "main"]

#: Where the names point unless told otherwise.
DEFAULT_ADDRESS = "127.0.0.1"


def _byLabelsFromTheRight(names: Iterable[str]) -> List[str]:
    # As wpt's make_hosts_file: grouped by host, then by subdomain.
    return sorted(names, key=lambda name: tuple(reversed(name.split("."))))


def hostsFile(config: ServerConfig, address: str = DEFAULT_ADDRESS, windows: Optional[bool] = None) -> str:
    """
    The hosts-file block ``wpt make-hosts-file`` prints for ``config``:
    one ``ADDRESS<TAB>NAME`` line per name that should resolve, between
    its start and end comments; on Windows (which reads ``0.0.0.0`` as no
    address) a ``0.0.0.0`` line per name that must not resolve.
    """
    if windows is None:
        windows = platform.uname()[0] == "Windows"
    lines = ["# Start web-platform-tests hosts"]
    lines.extend(f"{address}\t{name}" for name in _byLabelsFromTheRight(config["domains_set"]))
    if windows:
        lines.extend(f"0.0.0.0\t{name}" for name in _byLabelsFromTheRight(config["not_domains_set"]))
    lines.extend(["# End web-platform-tests hosts", ""])
    return "\n".join(lines)


def hostResolverRules(config: ServerConfig, address: str = DEFAULT_ADDRESS) -> str:
    """
    The value of Chromium's ``--host-resolver-rules`` that reaches every
    origin of ``config`` with no hosts file: each name that should resolve
    mapped to ``address``, each that must not to ``~NOTFOUND``.
    """
    rules = [f"MAP {name} {address}" for name in _byLabelsFromTheRight(config["domains_set"])]
    rules.extend(f"MAP {name} ~NOTFOUND" for name in _byLabelsFromTheRight(config["not_domains_set"]))
    return ", ".join(rules)


def chromiumSwitches(config: ServerConfig, address: str = DEFAULT_ADDRESS, pin: Optional[str] = None) -> List[str]:
    """
    Chromium's command-line switches for ``config``: the host resolver
    rules and, given the server certificate's SPKI pin, the switch that
    trusts it.
    """
    switches = [f"--host-resolver-rules={hostResolverRules(config, address)}"]
    if pin is not None:
        switches.append(f"--ignore-certificate-errors-spki-list={pin}")
    return switches


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m twisted_pyhandlers.hosts``: print the lines; 2 for a bad config."""
    parser = argparse.ArgumentParser(
        prog="python -m twisted_pyhandlers.hosts",
        description="Print the hosts-file lines (as wpt make-hosts-file) for the names of "
        "twistd pyhandlers --all-ports with the same --root, --config and --host.",
    )
    parser.add_argument("--root", default=".", help="the checkout (its config.json is merged, as wpt serve does)")
    parser.add_argument("--config", default=None, help="a config file, merged over wpt serve's defaults")
    parser.add_argument("--host", default=None, help="the main host name")
    parser.add_argument("--address", default=DEFAULT_ADDRESS, help="the address the names point to [127.0.0.1]")
    parser.add_argument("--chromium", action="store_true", help="print Chromium's switches instead")
    parser.add_argument("--tls-dir", default=None, help="with --chromium: the server's --tls-dir, for the pin switch")
    options = parser.parse_args(argv)
    try:
        data, _ = wptServeConfig(os.path.realpath(options.root), options.config, options.host)
        config = ServerConfig.fromDict(data)
    except ValueError as e:
        print(f"{parser.prog}: {e}", file=sys.stderr)
        return 2
    if options.chromium:
        pin = None
        if options.tls_dir is not None:
            try:
                pin = loadServerCertificate(
                    os.path.join(options.tls_dir, SERVER_CERT_FILE), os.path.join(options.tls_dir, SERVER_KEY_FILE)
                ).pin
            except CertificateError as e:
                print(f"{parser.prog}: --tls-dir {options.tls_dir}: {e}", file=sys.stderr)
                return 2
        print(" ".join(f"'{switch}'" for switch in chromiumSwitches(config, options.address, pin)))
    else:
        sys.stdout.write(hostsFile(config, options.address))
    return 0


if __name__ == "__main__":
    sys.exit(main())
