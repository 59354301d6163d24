"""
Serve a document root with twisted_pyhandlers, for the differential suite.

Run as ``python ours_runner.py ROOT``.  It mounts
:class:`twisted_pyhandlers.HandlerDirectory` as the root resource of a
:class:`twisted.web.server.Site`, listens on 127.0.0.1 with a port chosen by
the kernel, prints ``PORT <number>`` on one line of stdout and runs the
reactor until stdin closes or the process is killed.

Our server runs in its own process, like wptserve, so the differential tests
are plain synchronous socket code: nothing they do can block the reactor that
serves them, and the pytest process's own reactor (pytest-twisted) is left to
the other tests.
"""

from __future__ import annotations

import argparse
import os
import sys

from twisted.internet import reactor as _reactor
from twisted.internet import stdio
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.server import Site

from twisted_pyhandlers import HandlerDirectory


class StopOnStdinClose(Protocol):
    """
    Stop the reactor when the parent closes our stdin.

    Runs on the reactor thread.
    """

    def connectionLost(self, reason: Failure | None = None) -> None:
        if _reactor.running:  # type: ignore[attr-defined]
            _reactor.stop()  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    """
    Start our server on ``ROOT``, print the port, run the reactor.

    Runs on the reactor thread (the process's main thread).
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="document root to serve")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)

    resource = HandlerDirectory(root, reactor=_reactor)
    port = _reactor.listenTCP(  # type: ignore[attr-defined]
        0, Site(resource), interface=args.host
    )
    sys.stdout.write(f"PORT {port.getHost().port}\n")
    sys.stdout.flush()
    stdio.StandardIO(StopOnStdinClose())
    _reactor.run()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
