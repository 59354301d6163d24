"""
Handlers that import ``wptserve`` names run with no wptserve installed
(SPEC section 3).  The test suite itself has wptserve installed (for the
differential tests), so this runs a server in a child Python whose import
path is this one's minus wptserve: a real "not installed".
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

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
