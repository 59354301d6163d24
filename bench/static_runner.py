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

The access log goes through Twisted's log system to ``--log`` (a file), the
same as ``twistd -n`` does for our server, so both pay the same logging
cost.
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


def main(argv: list[str] | None = None) -> int:
    """
    Listen on 127.0.0.1 ``--port``, print ``PORT n``, run the reactor.

    Runs in the process's main thread (the reactor thread).
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="document root to serve")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", default=os.devnull, help="log file (default: discard)")
    args = parser.parse_args(argv)

    logFile = open(args.log, "a")  # noqa: SIM115 (open for the life of the process)
    globalLogBeginner.beginLoggingTo([textFileLogObserver(logFile)], redirectStandardIO=False)

    root = File(os.path.abspath(args.root))
    root.putChild(b"tiny", Data(TINY_BODY, "text/plain"))
    root.putChild(b"mib", Data(b"x" * MIB_BODY_SIZE, "application/octet-stream"))
    site = Site(root)

    def listening(port: object) -> None:
        sys.stdout.write(f"PORT {port.getHost().port}\n")  # type: ignore[attr-defined]
        sys.stdout.flush()

    endpoint = endpoints.TCP4ServerEndpoint(reactor, args.port, interface="127.0.0.1")
    endpoint.listen(site).addCallback(listening)
    reactor.run()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
