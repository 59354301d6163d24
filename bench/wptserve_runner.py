"""
Serve the bench's document root with the real wptserve 4.0.3.

Run as ``python bench/wptserve_runner.py ROOT --port N``.  It starts a
:class:`wptserve.server.WebTestHttpd` on 127.0.0.1 with wptserve's standard
routes and a stash server (as ``wpt serve`` does), and serves until killed
or until its stdin closes.

``--scheme https`` or ``--scheme h2`` (with ``--tls-dir DIR``) starts the
server ``wpt serve`` runs for that port instead: ``use_ssl=True`` (HTTP/1.1
over TLS), or ``Http2WebTestRequestHandler`` with ``http2=True`` (HTTP/2
over TLS, ALPN ``h2``), presenting a certificate made in ``DIR`` by
:mod:`twisted_pyhandlers._certificates` (the kind our server presents).  This is the approach of
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
from typing import Any

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
    parser.add_argument("--scheme", choices=("http", "https", "h2"), default="http")
    parser.add_argument("--tls-dir", help="where the certificate is made (https and h2)")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    tls: dict[str, Any] = {}
    if args.scheme != "http":
        if args.tls_dir is None:
            parser.error(f"--scheme {args.scheme} needs --tls-dir")
        # Imported here, so that the plain http server loads nothing of ours.
        from twisted_pyhandlers._certificates import makeServerCertificate

        certificate = makeServerCertificate(args.tls_dir, [args.host])
        tls = {"use_ssl": True, "key_file": str(certificate.keyPath), "certificate": str(certificate.certPath)}
        if args.scheme == "h2":
            tls.update(handler_cls=server.Http2WebTestRequestHandler, http2=True)

    with stash.StashServer():
        httpd = server.WebTestHttpd(host=args.host, port=args.port, doc_root=root, routes=routes.routes, **tls)
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
