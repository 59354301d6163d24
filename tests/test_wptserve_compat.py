"""
Handlers that import ``wptserve`` names run with no wptserve installed
(docs/handlers.rst).  The test suite itself has wptserve installed (for the
differential tests), so this runs a server in a child Python whose import
path is this one's minus wptserve: a real "not installed".
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest

from twisted_pyhandlers.compat.wptserve import handlers, pipes, utils

REPO = Path(__file__).resolve().parent.parent

HANDLER = """
from wptserve.utils import isomorphic_decode, isomorphic_encode, HTTPException
from wptserve.handlers import handler, json_handler
from wptserve import constants, pipes, stash

@json_handler
def main(request, response):
    response.content = "abcd"
    if request.GET.first(b"fail", None):
        raise HTTPException(418, "teapot")
    return {
        "decoded": isomorphic_decode(b"caf\\xe9"),
        "encoded": isomorphic_encode("caf\\xe9").decode("latin-1"),
        "reason": constants.response_codes[404][0],
        "sliced": pipes.slice(request, response, 1, 3).content.decode(),
    }
"""

CHILD = """
import json, sys
from twisted.internet import defer, task

def run(reactor):
    import importlib.util
    assert importlib.util.find_spec("wptserve") is None, "a real wptserve is importable"
    from twisted_pyhandlers import HandlerDirectory, HandlerSite
    import treq
    port = reactor.listenTCP(0, HandlerSite(HandlerDirectory(sys.argv[1])), interface="127.0.0.1")
    base = "http://127.0.0.1:%d/compat.py" % port.getHost().port

    async def fetch():
        results = {}
        for name, url in [("ok", base), ("fail", base + "?fail=1")]:
            response = await treq.get(url)
            results[name] = [response.code, (await response.content()).decode("utf-8")]
        import wptserve.utils
        import twisted_pyhandlers.compat.wptserve.utils as ours
        results["module"] = wptserve.utils.__file__
        results["same"] = wptserve.utils is ours
        print(json.dumps(results))

    return defer.ensureDeferred(fetch())

task.react(run)
"""


def test_wptserveNamesWithoutWptserve(tmp_path: Path) -> None:
    """
    ``from wptserve.utils import ...``, ``from wptserve.handlers import
    json_handler``, ``wptserve.pipes.slice`` and the other handler-facing
    names work where wptserve is not installed: they are our compatibility modules, and an
    HTTPException from them gives its status.
    """
    spec = importlib.util.find_spec("wptserve")
    assert spec is not None and spec.submodule_search_locations
    sitePackages = Path(list(spec.submodule_search_locations)[0]).parent
    shadow = tmp_path / "site-packages-without-wptserve"
    shadow.mkdir()
    for entry in sitePackages.iterdir():
        if not entry.name.startswith("wptserve"):
            os.symlink(entry, shadow / entry.name)
    root = tmp_path / "root"
    root.mkdir()
    (root / "compat.py").write_text(textwrap.dedent(HANDLER))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(shadow)]))
    result = subprocess.run(
        [sys.executable, "-S", "-c", CHILD, str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout.strip().splitlines()[-1])
    assert results["module"].endswith(os.path.join("twisted_pyhandlers", "compat", "wptserve", "utils.py"))
    assert results["same"] is True
    code, body = results["ok"]
    assert code == 200
    assert json.loads(body) == {"decoded": "café", "encoded": "café", "reason": "Not Found", "sliced": "bc"}
    code, body = results["fail"]
    assert code == 418
    assert json.loads(body) == {"error": {"code": 418, "message": "(418, 'teapot')"}}


# -- the helpers of the compatibility modules, beside wptserve's own ------------

wptutils = pytest.importorskip("wptserve.utils")
wpthandlers = pytest.importorskip("wptserve.handlers")


def test_portHelpersMatchWptserve() -> None:
    """
    ``is_bad_port`` refuses exactly wptserve's ports; ``get_port`` gives a
    port that is free (it can be bound) and not a bad one;
    ``http2_compatible`` answers as wptserve's.
    """
    assert [p for p in range(70000) if utils.is_bad_port(p) != wptutils.is_bad_port(p)] == []
    port = utils.get_port()
    assert not utils.is_bad_port(port)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))
    assert utils.http2_compatible() == wptutils.http2_compatible()


@pytest.mark.parametrize(
    "path",
    ["a.html", "a.HTML", "x/y.js", "no-extension", ".htaccess", "a.tar.gz", "a.json", "a.event_stream", "a."],
)
def test_guessContentTypeMatchesWptserve(path: str) -> None:
    """guess_content_type gives wptserve's answer for every kind of name."""
    assert handlers.guess_content_type(path) == wpthandlers.guess_content_type(path)


@pytest.mark.parametrize(
    "urlPath, urlBase",
    [
        ("/a/b.py", "/"),
        ("/a/%62.py", "/"),
        ("/wpt/a/b.py", "/wpt/"),
        ("/a/../b.py", "/"),
        ("/a/%2e%2e/b.py", "/"),
        ("//etc/passwd", "/"),
        ("/", "/"),
    ],
)
def test_filesystemPathMatchesWptserve(urlPath: str, urlBase: str) -> None:
    """
    filesystem_path maps a URL path under url_base to the same file-system
    path as wptserve's, and refuses (404) the same paths.
    """
    fake = SimpleNamespace(doc_root="/srv/root", url_parts=urlsplit("http://h" + urlPath))

    def outcome(function: Any) -> str:
        try:
            return str(function(None, fake, urlBase))
        except Exception as e:
            return f"{type(e).__name__} {getattr(e, 'code', '')}"

    assert outcome(handlers.filesystem_path) == outcome(wpthandlers.filesystem_path)


def test_loadHeadersMatchesWptserve(tmp_path: Path) -> None:
    """
    load_headers reads ``__dir__.headers`` then the file's own ``.headers``,
    as wptserve's, into the same (name, value) bytes pairs.
    """
    (tmp_path / "__dir__.headers").write_bytes(b"X-Dir: d\n")
    (tmp_path / "page.html.headers").write_bytes(b"X-A:  one \r\nX-B:two\n\nX-A: three\n")
    path = str(tmp_path / "page.html")
    fake = SimpleNamespace()
    assert handlers.load_headers(fake, path) == [tuple(p) for p in wpthandlers.load_headers(fake, path)]
    assert handlers.load_headers(fake, str(tmp_path / "other.html")) == [(b"X-Dir", b"d")]


def test_pipeFunctionsAreThePipes() -> None:
    """
    ``wptserve.pipes.status`` and the others are the plain pipe functions
    (they take Python values, as wptserve's module names do), and the pipe
    of the same name in ``?pipe=`` converts its string arguments and calls
    the same function.
    """
    from twisted_pyhandlers._pipes import Pipeline

    for name in ["status", "header", "slice", "trickle", "sub", "gzip"]:
        assert getattr(pipes, name).__name__ == name
    response = SimpleNamespace(status=None)
    assert pipes.status(None, response, 404) is response and response.status == 404
    Pipeline("status(418)")(None, response)
    assert response.status == 418
