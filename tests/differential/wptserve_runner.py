"""
Serve a document root with the real wptserve 4.0.3, for the differential suite.

Run as ``python -m tests.differential.wptserve_runner ROOT`` (or by file
path).  It starts a :class:`wptserve.server.WebTestHttpd` on 127.0.0.1 with a
port chosen by the kernel, wptserve's standard routes and a stash server, then
prints ``PORT <number>`` on one line of stdout and serves until stdin closes
or the process is killed.

wptserve runs in its own process because it is blocking, thread-per-request
code that changes process-wide state (``sys.path``, ``os.environ``,
``Server.config``); keeping it out of the pytest process means neither server
can see the other's state.

One route is added to wptserve's defaults: wptserve's
:class:`~wptserve.handlers.PythonScriptHandler` knows how to run the first
``default*.py`` of a directory, but its default route table only sends
``*.py`` paths to it, so a directory URL never reaches that code.  The
``DirectoryDispatch`` route below sends a slash-terminated directory URL to
the script handler when the directory holds a ``default*.py`` file and to the
normal file handler (slash redirect, listing) otherwise, which is what the
docs/handlers.rst promises of our server.

With ``--h2 TLSDIR`` it is wptserve's own HTTP/2 server instead, as ``wpt
serve`` starts it for the h2 port (``Http2WebTestRequestHandler``,
``use_ssl=True``, ``http2=True``: TLS with ALPN ``h2`` only), presenting a
certificate made in ``TLSDIR`` by our :mod:`twisted_pyhandlers._certificates`
(the same code, and so the same kind of certificate, as our server's).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import sys
import threading
from typing import Any

from wptserve import config, handlers, routes, server, stash  # type: ignore[import-untyped]

from twisted_pyhandlers._certificates import makeServerCertificate


class DirectoryDispatch:
    """
    Route slash-terminated directory URLs with a ``default*.py`` to
    wptserve's script handler, and everything else to its file handler.

    Runs in one of wptserve's per-connection threads.
    """

    def __call__(self, request: Any, response: Any) -> Any:
        path = handlers.filesystem_path(None, request, "/")
        if os.path.isdir(path) and any(
            p.is_file() for p in pathlib.Path(path).glob("default*.py")
        ):
            return handlers.python_script_handler(request, response)
        return handlers.file_handler(request, response)


def main(argv: list[str] | None = None) -> int:
    """
    Start wptserve on ``ROOT``, print the port, serve until stdin closes.

    Runs in the process's main thread; wptserve serves from its own threads.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="document root to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--config", help="a wptserve-style JSON config file")
    parser.add_argument("--h2", metavar="TLSDIR", help="serve HTTP/2 over TLS, with a certificate made in TLSDIR")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    serverConfig = None
    if args.config is not None:
        with open(args.config, encoding="utf-8") as configFile:
            settings = json.load(configFile)
        builder = config.ConfigBuilder(
            logging.getLogger("wptserve_runner"),
            subdomains=set(settings.pop("subdomains", [])),
            not_subdomains=set(settings.pop("not_subdomains", [])),
            **settings,
        )
        with builder as built:
            serverConfig = built

    # wptserve tries routes in list order; ours must come before ("GET", "*").
    ourRoutes = [("GET", "*/", DirectoryDispatch())] + list(routes.routes)

    tls: dict[str, Any] = {}
    if args.h2 is not None:
        certificate = makeServerCertificate(args.h2, [args.host])
        tls = {
            "handler_cls": server.Http2WebTestRequestHandler,
            "use_ssl": True,
            "http2": True,
            "key_file": str(certificate.keyPath),
            "certificate": str(certificate.certPath),
        }

    with stash.StashServer():
        httpd = server.WebTestHttpd(
            host=args.host,
            port=0,
            doc_root=root,
            routes=ourRoutes,
            config=serverConfig,
            **tls,
        )
        httpd.start()
        sys.stdout.write(f"PORT {httpd.port}\n")
        sys.stdout.flush()
        # Serve until the parent closes our stdin (or kills us).
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
