"""
Serve the bench's bytes with plain twisted.web, the "what twisted.web can do
at all" baseline of docs/performance.rst.

Run as ``python bench/static_runner.py ROOT --port N``.  The resource tree is
``twisted.web.static.File(ROOT)`` with two ``twisted.web.static.Data``
children put on it:

- ``/tiny``: ``Data(TINY_BODY, "text/plain")``, the same bytes the tiny
  handler answers (the tiny-response comparison);
- ``/mib``: ``Data`` of 1 MiB, the same bytes as the 1 MiB handler;
- everything else, e.g. ``/static.txt``: ``File`` (the static file).

Without ``--log`` the site writes no access log (its ``log`` does nothing),
as ``twistd pyhandlers`` without ``--access-log``; with ``--log FILE`` it
writes Twisted's line per request to that file, as ours does with
``--access-log FILE``.  The bench runs both sides the same way.
"""

from __future__ import annotations

import argparse
import os
import sys

# Make ``bench`` importable when run by path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet import endpoints, reactor
from twisted.logger import globalLogBeginner, textFileLogObserver
from twisted.web.server import Site
from twisted.web.static import Data, File

from bench.docroot import MIB_BODY_SIZE, TINY_BODY


class QuietSite(Site):
    """A plain ``Site`` that writes no access log line (as ours without ``--access-log``)."""

    def log(self, request: object) -> None:
        """No access log."""


def main(argv: list[str] | None = None) -> int:
    """
    Listen on 127.0.0.1 ``--port``, print ``PORT n``, run the reactor.

    Runs in the process's main thread (the reactor thread).
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="document root to serve")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", help="access log file (default: no access log)")
    args = parser.parse_args(argv)

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)

    root = File(os.path.abspath(args.root))
    root.putChild(b"tiny", Data(TINY_BODY, "text/plain"))
    root.putChild(b"mib", Data(b"x" * MIB_BODY_SIZE, "application/octet-stream"))
    site = Site(root, logPath=args.log) if args.log else QuietSite(root)

    def listening(port: object) -> None:
        sys.stdout.write(f"PORT {port.getHost().port}\n")  # type: ignore[attr-defined]
        sys.stdout.flush()

    endpoint = endpoints.TCP4ServerEndpoint(reactor, args.port, interface="127.0.0.1")
    endpoint.listen(site).addCallback(listening)
    reactor.run()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
