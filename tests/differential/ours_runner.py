"""
Serve a document root with twisted_pyhandlers, for the differential suite.

Run as ``python ours_runner.py ROOT``.  It mounts
:class:`twisted_pyhandlers.HandlerDirectory` as the root resource of the
very Site ``twistd pyhandlers`` serves its http ports with (a
:class:`twisted_pyhandlers.HandlerSite`, made by the plugin's own
``SiteMaker``), listens on 127.0.0.1 with a port chosen by
the kernel, prints ``PORT <number>`` on one line of stdout and serves until
stdin closes or the process is killed.

Our server runs in its own process, like wptserve, so the differential tests
are plain synchronous socket code: nothing they do can block the reactor that
serves them, and the pytest process's own reactor (pytest-twisted) is left to
the other tests.

Handlers here import ``wptserve`` names from our compatibility package
(:mod:`twisted_pyhandlers.compat.wptserve`) even though the real wptserve is
installed beside it (for the other server): the suite compares wptserve with
our server as users run it, where no wptserve is installed.

With ``--h2 TLSDIR`` it serves the ``h2`` scheme's Site instead (HTTP/2
only, ALPN ``h2``), inside TLS with a certificate made in ``TLSDIR``, as
``twistd pyhandlers --listen h2=...`` does.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from twisted.internet import stdio
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.internet.task import react
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from twisted_pyhandlers import HandlerDirectory
from twisted_pyhandlers._certificates import makeServerCertificate
from twisted_pyhandlers._schemes import SiteMaker
from twisted_pyhandlers._script import _WptserveCompatFinder
from twisted_pyhandlers.config import ServerConfig


class FireOnClose(Protocol):
    """
    Fire a Deferred when the parent closes our stdin.

    Runs on the reactor thread.
    """

    def __init__(self, done: Deferred[None]) -> None:
        self.done = done

    def connectionLost(self, reason: Failure | None = None) -> None:
        if not self.done.called:
            self.done.callback(None)


def serve(
    reactor: Any,
    root: str,
    host: str,
    configPath: str | None = None,
    wsHandlers: str | None = None,
    tlsDir: str | None = None,
) -> Deferred[None]:
    """
    Listen, announce the port, and return a Deferred that fires when stdin
    closes (``react`` then stops the reactor).

    Runs on the reactor thread.
    """
    config = None if configPath is None else ServerConfig.fromFile(configPath, docRoot=root)
    resource = HandlerDirectory(root, reactor=reactor, config=config)
    factory: Any
    if tlsDir is None:
        # The very Site the twistd plugin serves the http scheme with (with
        # --ws, the factory it serves the ws scheme with).
        scheme = "http" if wsHandlers is None else "ws"
        factory = SiteMaker(resource, wsHandlers=wsHandlers).siteForScheme(scheme)
    else:
        # ... or the h2 scheme with, inside TLS as tap.py wraps it.
        certificate = makeServerCertificate(tlsDir, [host])
        factory = TLSMemoryBIOFactory(certificate.contextFactory(), False, SiteMaker(resource).siteForScheme("h2"))
    port = reactor.listenTCP(0, factory, interface=host)
    sys.stdout.write(f"PORT {port.getHost().port}\n")
    sys.stdout.flush()
    done: Deferred[None] = Deferred()
    stdio.StandardIO(FireOnClose(done), reactor=reactor)
    return done


def main(argv: list[str] | None = None) -> None:
    """
    Parse the command line and run :func:`serve` under ``react``.

    Runs in the process's main thread, which becomes the reactor thread.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="document root to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--config", help="a wptserve-style JSON config file")
    parser.add_argument("--ws", help="serve the ws scheme instead, with this WebSocket handler directory")
    parser.add_argument("--h2", metavar="TLSDIR", help="serve HTTP/2 over TLS, with a certificate made in TLSDIR")
    args = parser.parse_args(argv)
    # First in line, so handlers get our wptserve names, not the real ones.
    sys.meta_path.insert(0, _WptserveCompatFinder())
    react(serve, [os.path.abspath(args.root), args.host, args.config, args.ws, args.h2])


if __name__ == "__main__":
    main()
