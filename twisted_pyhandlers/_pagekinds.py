"""
The kinds of page ``wpt serve`` generates from a script test, in the route
order of each edition of its ``tools/serve/serve.py``: for each, the URL
suffix it answers, the source file and the script it loads, the scope
(``global=``) it runs the test in, and its text, byte for byte.

Pure data and string work, no I/O: :mod:`twisted_pyhandlers._testpages`
serves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable, Optional

__all__ = ["PAGE_SETS", "PageKind", "PageSet", "pageSet"]

#: One META line turned into a line of the page, or None for nothing.
MetaLine = Callable[[str, str], Optional[str]]


def _htmlMeta(key: str, value: str) -> Optional[str]:
    """An HTML page's ``<head>`` line for ``timeout=long`` and ``title=``."""
    if key == "timeout" and value == "long":
        return '<meta name="timeout" content="long">'
    if key == "title":
        return "<title>%s</title>" % value.replace("&", "&amp;").replace("<", "&lt;")
    return None


def _htmlScript(key: str, value: str) -> Optional[str]:
    """An HTML page's ``<script src>`` for ``script=``."""
    if key == "script":
        return '<script src="%s"></script>' % value.replace("&", "&amp;").replace('"', "&quot;")
    return None


def _realmScript(key: str, value: str) -> Optional[str]:
    """A ShadowRealm page's ``await import(...)`` for ``script=`` (unescaped, as wpt)."""
    if key == "script":
        return 'await import("%s");' % value
    return None


def _noLine(key: str, value: str) -> Optional[str]:
    """Worker scripts have no head: no META line becomes a meta line."""
    return None


def _jsString(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _classicScript(key: str, value: str) -> Optional[str]:
    """A classic worker's ``importScripts(...)`` for ``script=``, ``META_TITLE`` for ``title=``."""
    if key == "script":
        return 'importScripts("%s")' % _jsString(value)
    if key == "title":
        return 'self.META_TITLE = "%s";' % _jsString(value)
    return None


def _moduleScript(key: str, value: str) -> Optional[str]:
    """A module worker's ``import "...";`` for ``script=``, ``META_TITLE`` for ``title=``."""
    if key == "script":
        return 'import "%s";' % _jsString(value)
    if key == "title":
        return 'self.META_TITLE = "%s";' % _jsString(value)
    return None


@dataclass(frozen=True)
class PageKind:
    """
    One generated page (one of wpt serve's wrapper routes).

    :ivar suffix: the URL suffix the route matches (``.any.worker.html``).
    :ivar renames: wpt's ``path_replace``: ``(suffix, source suffix, loaded
        suffix)`` triples, applied in order to a name that ends with the
        suffix; they give the source file on disk and the script the page
        loads (``x.any.worker.html`` reads ``x.any.js`` and loads
        ``x.any.worker.js``).
    :ivar scope: the ``global=`` scope the page runs the test in, or None
        for a page every test may have (``.window.html``, ``.worker.html``'s
        own tests name no scope).
    :ivar template: the page, with ``%(meta)s``, ``%(script)s``,
        ``%(path)s`` and ``%(query)s`` slots.
    :ivar contentType: its Content-Type.
    :ivar meta: what a META line puts in the ``meta`` slot.
    :ivar script: what a META line puts in the ``script`` slot.
    """

    suffix: str
    renames: tuple[tuple[str, str, str], ...]
    scope: Optional[str]
    template: str
    contentType: str
    meta: MetaLine
    script: MetaLine

    def _renamed(self, name: str, loaded: bool) -> str:
        for suffix, source, resource in self.renames:
            if name.endswith(suffix):
                name = name[: -len(suffix)] + (resource if loaded else source)
        return name

    def sourceName(self, name: str) -> str:
        """The file on disk the page of ``name`` (a file name or a path) is made from."""
        return self._renamed(name, loaded=False)

    def loadedPath(self, path: str) -> str:
        """The URL path of the script the page at ``path`` loads."""
        return self._renamed(path, loaded=True)

    def render(self, metadata: Sequence[tuple[str, str]], path: str, query: str) -> str:
        """
        The page at URL path ``path`` with query ``query`` (as sent, without
        its ``?``) for a source whose META lines are ``metadata``.
        """
        meta = [line for line in (self.meta(key, value) for key, value in metadata) if line]
        script = [line for line in (self.script(key, value) for key, value in metadata) if line]
        return self.template % {
            "meta": "\n".join(meta),
            "script": "\n".join(script),
            "path": self.loadedPath(path),
            "query": "?" + query if query else "",
        }


_HARNESS = """\
<script src="/resources/testharness.js"></script>
<script src="/resources/testharnessreport.js"></script>
"""


def _workerPage(construct: str) -> str:
    """An HTML page that runs the test in the worker ``construct`` makes."""
    return (
        "<!doctype html>\n<meta charset=utf-8>\n%(meta)s\n" + _HARNESS
        + "<div id=log></div>\n<script>\nfetch_tests_from_worker(" + construct + ");\n</script>\n"
    )


def _serviceWorkerPage(register: str) -> str:
    """An HTML page that registers the test as a service worker (``register``: the call)."""
    return (
        "<!doctype html>\n<meta charset=utf-8>\n%(meta)s\n" + _HARNESS
        + "<div id=log></div>\n<script>\n(async function() {\n"
        "  const scope = 'does/not/exist';\n"
        "  let reg = await navigator.serviceWorker.getRegistration(scope);\n"
        "  if (reg) await reg.unregister();\n"
        "  reg = await navigator.serviceWorker." + register + ";\n"
        "  fetch_tests_from_worker(reg.installing);\n"
        "})();\n</script>\n"
    )


def _globalObject(window: bool, shadowRealm: bool) -> str:
    """The ``self.GLOBAL`` object the page or worker script defines for the test."""
    lines = [
        "self.GLOBAL = {",
        "  isWindow: function() { return %s; }," % ("true" if window else "false"),
        "  isWorker: function() { return %s; }," % ("false" if window else "true"),
    ]
    if shadowRealm:
        lines.append("  isShadowRealm: function() { return false; },")
    lines.append("};")
    return "\n".join(lines) + "\n"


_WINDOW_PAGE = (
    "<!doctype html>\n<meta charset=utf-8>\n%(meta)s\n" + _HARNESS
    + "%(script)s\n<div id=log></div>\n<script src=\"%(path)s\"></script>\n"
)

_WINDOW_MODULE_PAGE = (
    "<!doctype html>\n<meta charset=utf-8>\n%(meta)s\n" + _HARNESS
    + "%(script)s\n<div id=log></div>\n<script type=module src=\"%(path)s\"></script>\n"
)


def _anyPage(shadowRealm: bool) -> str:
    return (
        "<!doctype html>\n<meta charset=utf-8>\n%(meta)s\n<script>\n"
        + _globalObject(window=True, shadowRealm=shadowRealm)
        + "</script>\n" + _HARNESS
        + "%(script)s\n<div id=log></div>\n<script src=\"%(path)s\"></script>\n"
    )


def _classicWorkerScript(shadowRealm: bool) -> str:
    return (
        "%(meta)s\n" + _globalObject(window=False, shadowRealm=shadowRealm)
        + 'importScripts("/resources/testharness.js");\n%(script)s\nimportScripts("%(path)s");\ndone();\n'
    )


def _moduleWorkerScript(shadowRealm: bool) -> str:
    return (
        "%(meta)s\n" + _globalObject(window=False, shadowRealm=shadowRealm)
        + 'import "/resources/testharness.js";\n%(script)s\nimport "%(path)s";\ndone();\n'
    )


_SHADOW_REALM_PAGE = (
    "<!doctype html>\n<meta charset=utf-8>\n%(meta)s\n" + _HARNESS
    + """<script>
(async function() {
  const r = new ShadowRealm();
  r.evaluate("globalThis.self = globalThis; undefined;");
  r.evaluate(`func => {
    globalThis.fetch_json = (resource) => {
      const thenMethod = func(resource);
      return new Promise((resolve, reject) => thenMethod((s) => resolve(JSON.parse(s)), reject));
    };
  }`)((resource) => function (resolve, reject) {
    fetch(resource).then(res => res.text(), String).then(resolve, reject);
  });
  r.evaluate(`s => {
    globalThis.location = { search: s };
  }`)(location.search);
  await new Promise(r.evaluate(`
    (resolve, reject) => {
      (async () => {
        globalThis.self.GLOBAL = {
          isWindow: function() { return false; },
          isWorker: function() { return false; },
          isShadowRealm: function() { return true; },
        };
        await import("/resources/testharness.js");
        %(script)s
        await import("%(path)s");
      })().then(resolve, (e) => reject(e.toString()));
    }
  `));

  await fetch_tests_from_shadow_realm(r);
  done();
})();
</script>
"""
)

_HTML = "text/html"
_JS = "text/javascript"


def _kinds(shadowRealm: bool) -> list[PageKind]:
    """
    wpt serve's page routes in its order, the worker scripts last; with
    ``shadowRealm``, today's pages (``isShadowRealm`` in ``self.GLOBAL``).
    """
    worker = "%(path)s%(query)s"
    return [
        PageKind(
            ".worker.html",
            ((".any.worker.html", ".any.js", ".any.worker.js"), (".worker.html", ".worker.js", ".worker.js")),
            "dedicatedworker", _workerPage(f'new Worker("{worker}")'), _HTML, _htmlMeta, _noLine,
        ),
        PageKind(
            ".worker-module.html",
            (
                (".any.worker-module.html", ".any.js", ".any.worker-module.js"),
                (".worker.html", ".worker.js", ".worker.js"),
            ),
            "dedicatedworker-module", _workerPage(f'new Worker("{worker}", {{ type: "module" }})'), _HTML,
            _htmlMeta, _noLine,
        ),
        PageKind(
            ".window.html", ((".window.html", ".window.js", ".window.js"),),
            None, _WINDOW_PAGE, _HTML, _htmlMeta, _htmlScript,
        ),
        PageKind(
            ".any.html", ((".any.html", ".any.js", ".any.js"),),
            "window", _anyPage(shadowRealm), _HTML, _htmlMeta, _htmlScript,
        ),
        PageKind(
            ".any.sharedworker.html", ((".any.sharedworker.html", ".any.js", ".any.worker.js"),),
            "sharedworker", _workerPage(f'new SharedWorker("{worker}")'), _HTML, _htmlMeta, _noLine,
        ),
        PageKind(
            ".any.sharedworker-module.html",
            ((".any.sharedworker-module.html", ".any.js", ".any.worker-module.js"),),
            "sharedworker-module", _workerPage(f'new SharedWorker("{worker}", {{ type: "module" }})'), _HTML,
            _htmlMeta, _noLine,
        ),
        PageKind(
            ".any.serviceworker.html", ((".any.serviceworker.html", ".any.js", ".any.worker.js"),),
            "serviceworker", _serviceWorkerPage(f'register("{worker}", {{scope}})'), _HTML, _htmlMeta, _noLine,
        ),
        PageKind(
            ".any.serviceworker-module.html",
            ((".any.serviceworker-module.html", ".any.js", ".any.worker-module.js"),),
            "serviceworker-module",
            _serviceWorkerPage(f"register(\n    \"{worker}\",\n    {{ scope, type: 'module' }},\n  )"),
            _HTML, _htmlMeta, _noLine,
        ),
        *(
            [
                PageKind(
                    ".any.shadowrealm.html", ((".any.shadowrealm.html", ".any.js", ".any.js"),),
                    "shadowrealm", _SHADOW_REALM_PAGE, _HTML, _htmlMeta, _realmScript,
                ),
                PageKind(
                    ".any.window-module.html", ((".any.window-module.html", ".any.js", ".any.js"),),
                    "window-module", _WINDOW_MODULE_PAGE, _HTML, _htmlMeta, _htmlScript,
                ),
            ]
            if shadowRealm
            else []
        ),
        PageKind(
            ".any.worker.js", ((".any.worker.js", ".any.js", ".any.js"),),
            None, _classicWorkerScript(shadowRealm), _JS, _noLine, _classicScript,
        ),
        PageKind(
            ".any.worker-module.js", ((".any.worker-module.js", ".any.js", ".any.js"),),
            None, _moduleWorkerScript(shadowRealm), _JS, _noLine, _moduleScript,
        ),
    ]


class PageSet:
    """
    The generated pages of one edition of ``wpt serve``, in its route order.

    :ivar name: the edition's name (a key of :data:`PAGE_SETS`).
    :ivar kinds: its pages, the first match winning.
    :ivar suffixes: their URL suffixes, as bytes: a name that ends with none
        of them (``name.endswith(suffixes)``, which the tree asks of every
        leaf before it calls :meth:`kindFor`) is no page.
    """

    def __init__(self, name: str, kinds: Sequence[PageKind]) -> None:
        self.name = name
        self.kinds = tuple(kinds)
        self.suffixes = tuple(kind.suffix.encode("ascii") for kind in self.kinds)

    def kindFor(self, name: bytes) -> Optional[PageKind]:
        """
        The page a URL path's last segment ``name`` (percent-decoded) names,
        or None.  Reactor thread.
        """
        for kind, suffix in zip(self.kinds, self.suffixes, strict=True):
            if name.endswith(suffix):
                return kind
        return None


#: The editions: ``current`` is today's serve.py (``self.GLOBAL`` has
#: ``isShadowRealm``, and the ``.any.shadowrealm.html`` and
#: ``.any.window-module.html`` pages exist); ``2021`` is serve.py as of
#: mid-2021, whose answers ``tests/wptpages/`` records.
PAGE_SETS: dict[str, PageSet] = {
    "current": PageSet("current", _kinds(shadowRealm=True)),
    "2021": PageSet("2021", _kinds(shadowRealm=False)),
}


def pageSet(name: str) -> PageSet:
    """
    The edition named ``name`` (``current`` or ``2021``).

    :raises ValueError: for any other name, listing the known ones.
    """
    try:
        return PAGE_SETS[name]
    except KeyError:
        raise ValueError(f"unknown test page set {name!r}: one of {', '.join(PAGE_SETS)}") from None
