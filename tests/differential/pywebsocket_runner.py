"""
Serve a WebSocket handler directory with pywebsocket3's own server, as
wpt's ``tools/serve/serve.py`` starts it for wptserve's ws ports: the
reference of the WebSocket differential tests.

Run as ``python pywebsocket_runner.py HANDLERS``.  It makes
``mod_pywebsocket`` importable (the name real handler files use), builds
the options with pywebsocket's own argument parser (``-p 0 -w HANDLERS``,
CGI off, as ``WebSocketDaemon`` does), starts its ``WebSocketServer`` on
127.0.0.1, prints ``PORT <number>`` and serves until stdin closes.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import threading

import pywebsocket3
from pywebsocket3 import standalone  # type: ignore[import-untyped]


def main(argv: list[str]) -> int:
    """Serve ``argv[0]`` until stdin closes.  Main thread; pywebsocket serves from its own."""
    sys.modules["mod_pywebsocket"] = pywebsocket3
    for info in pkgutil.walk_packages(pywebsocket3.__path__, "pywebsocket3."):
        sys.modules["mod_pywebsocket" + info.name[len("pywebsocket3"):]] = importlib.import_module(info.name)
    options, _ = standalone._parse_args_and_config(["-H", "127.0.0.1", "-p", "0", "-w", argv[0], "-d", argv[0]])
    options.cgi_directories = []
    options.is_executable_method = None
    server = standalone.WebSocketServer(options)
    port = server._sockets[0][0].getsockname()[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"PORT {port}", flush=True)
    sys.stdin.read()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
