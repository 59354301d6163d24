"""
The walk of one ordinary request: which of the package's modules a
``GET /x.py`` over HTTP/1.1 enters, from the bytes received to the answer
written, as ``docs/architecture.rst`` tells it.

A child process serves a document root as ``twistd pyhandlers`` does by
default (no access log), over a real socket, with a profiler on every
thread; the third request on one keep-alive connection is traced (the
first two warm the code cache and the tree's memory of names).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

#: The most modules of the package one ordinary handler request may enter
#: (16 before the second architecture round): the number only goes down.
MAX_WALK_MODULES = 9

_TRACER = r"""
import json, socket, sys, threading, time
from twisted.internet import reactor
from twisted_pyhandlers import HandlerDirectory
from twisted_pyhandlers._schemes import QuietSite

tracing = [False]
calls = []
lock = threading.Lock()

def profile(frame, event, arg):
    if event != "call" or not tracing[0]:
        return
    name = frame.f_globals.get("__name__", "")
    if not name.startswith("twisted_pyhandlers"):
        return
    caller = frame.f_back
    while caller is not None and not caller.f_globals.get("__name__", "").startswith("twisted_pyhandlers"):
        caller = caller.f_back
    callerName = None if caller is None else caller.f_globals["__name__"]
    if callerName != name:
        with lock:
            calls.append([callerName, name, frame.f_code.co_name])

port = reactor.listenTCP(0, QuietSite(HandlerDirectory(sys.argv[1], reactor=reactor)), interface="127.0.0.1")

def client():
    request = b"GET /x.py HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=10) as sock:
        for traced in (False, False, True):
            tracing[0] = traced
            sock.sendall(request)
            answer = b""
            while not answer.endswith(b"hi"):
                answer += sock.recv(65536)
            time.sleep(0.2)  # the end of the response, on the reactor
            tracing[0] = False
    reactor.callFromThread(reactor.stop)

sys.setprofile(profile)
threading.setprofile(profile)
threading.Thread(target=client).start()
reactor.run()
sys.setprofile(None)
print(json.dumps(calls))
"""


def _walk(tmp_path: Path) -> Dict[str, Any]:
    """The calls between the package's modules of one traced request."""
    (tmp_path / "x.py").write_text("def main(request, response):\n    return 'hi'\n")
    result = subprocess.run(
        [sys.executable, "-c", _TRACER, str(tmp_path)], capture_output=True, text=True, timeout=60, check=True
    )
    calls = json.loads(result.stdout.splitlines()[-1])
    modules = []
    for _, name, _ in calls:
        if name not in modules:
            modules.append(name)
    return {"calls": calls, "modules": modules}


def test_oneRequestEntersAtMostNineModules(tmp_path: Path) -> None:
    """
    One ordinary HTTP/1.1 GET of a handler enters at most
    :data:`MAX_WALK_MODULES` of the package's modules, those the
    architecture page names: the HTTP/1.1 protocol, the tree, the run, the
    thread pool, the file, the request and response, the writer, the output.
    """
    walk = _walk(tmp_path)
    assert len(walk["modules"]) <= MAX_WALK_MODULES, walk["modules"]
    assert {
        "twisted_pyhandlers._h11protocol",
        "twisted_pyhandlers.resource",
        "twisted_pyhandlers._run",
        "twisted_pyhandlers._script",
        "twisted_pyhandlers._h11writer",
        "twisted_pyhandlers._output",
    } <= set(walk["modules"]), walk["modules"]
