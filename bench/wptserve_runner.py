"""
Serve the bench's document root with the real wptserve 4.0.3.

Run as ``python bench/wptserve_runner.py ROOT --port N``.  It starts a
:class:`wptserve.server.WebTestHttpd` on 127.0.0.1 with wptserve's standard
routes and a stash server (as ``wpt serve`` does), and serves until killed
or until its stdin closes.  This is the approach of
``tests/differential/wptserve_runner.py`` without its directory route, which
the bench does not need.

wptserve runs in its own process because it is blocking, thread-per-request
code; the bench measures it exactly as it ships.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

from wptserve import routes, server, stash


def main(argv: list[str] | None = None) -> int:
    """
    Start wptserve on ``ROOT`` and ``--port``, print ``PORT n``, serve until
    stdin closes.

    Runs in the process's main thread; wptserve serves from its own threads.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="document root to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)

    with stash.StashServer():
        httpd = server.WebTestHttpd(host=args.host, port=args.port, doc_root=root, routes=routes.routes)
        httpd.start()
        sys.stdout.write(f"PORT {httpd.port}\n")
        sys.stdout.flush()
        done = threading.Event()

        def waitForStdin() -> None:
            sys.stdin.read()
            done.set()

        threading.Thread(target=waitForStdin, daemon=True).start()
        done.wait()
        httpd.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
