"""
The shape of the package: no import cycles between its modules, the names
every public module offers, pinned (klein's ``test_exports.py``), no two
module names one letter apart, wire formats known only to their own layer
(HTTP/2's libraries, QUIC's, each writer, Twisted's private HTTP/2 state), the
number of getattr/hasattr calls (which only goes down), and every import
declared.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

PACKAGE = "twisted_pyhandlers"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE


def _moduleName(path: Path) -> str:
    relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str) -> Set[str]:
    """
    Every module of the package that ``path`` imports, anywhere in it:
    at the top, inside functions, and under ``TYPE_CHECKING`` (a cycle of
    type-only imports is still a cycle in the design).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    isPackage = path.name == "__init__.py"
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE):
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                if not isPackage:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith(PACKAGE):
                continue
            found.add(module)
            for alias in node.names:
                # "from package import module" imports the module.
                candidate = f"{module}.{alias.name}"
                if candidate in _allModules():
                    found.add(candidate)
    return found


_modulesCache: Dict[str, Path] = {}


def _allModules() -> Dict[str, Path]:
    if not _modulesCache:
        for path in sorted(PACKAGE_DIR.rglob("*.py")):
            _modulesCache[_moduleName(path)] = path
    return _modulesCache


def importGraph() -> Dict[str, Set[str]]:
    """Each module of the package to the modules of the package it imports."""
    modules = _allModules()
    graph: Dict[str, Set[str]] = {}
    for name, path in modules.items():
        edges = {imported for imported in _imports(path, name) if imported in modules and imported != name}
        # Importing a.b.c runs a and a.b first, but a package's __init__
        # importing its own submodules is not a cycle of the design.
        graph[name] = edges
    return graph


def findCycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One import cycle of ``graph`` as a list of modules, or [] for none."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {node: WHITE for node in graph}
    stack: List[str] = []

    def visit(node: str) -> List[str]:
        colour[node] = GREY
        stack.append(node)
        for nextNode in sorted(graph[node]):
            if colour[nextNode] == GREY:
                return stack[stack.index(nextNode) :] + [nextNode]
            if colour[nextNode] == WHITE:
                cycle = visit(nextNode)
                if cycle:
                    return cycle
        stack.pop()
        colour[node] = BLACK
        return []

    for node in sorted(graph):
        if colour[node] == WHITE:
            cycle = visit(node)
            if cycle:
                return cycle
    return []


def test_findCycleFindsOne() -> None:
    """The cycle finder itself sees a cycle, type-only or not, and none where there is none."""
    assert findCycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert findCycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_importsSeeTypeOnlyAndLocalImports(tmp_path: Path) -> None:
    """Imports under TYPE_CHECKING and inside functions count as edges."""
    path = tmp_path / "mod.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from twisted_pyhandlers._request import Request\n"
        "def f():\n"
        "    from twisted_pyhandlers import stash\n"
        "    import twisted_pyhandlers._run\n"
    )
    found = _imports(path, "twisted_pyhandlers.mod")
    assert {"twisted_pyhandlers._request", "twisted_pyhandlers.stash", "twisted_pyhandlers._run"} <= found


def test_noImportCycles() -> None:
    """No module of the package imports, directly or not, a module that imports it back."""
    graph = importGraph()
    assert "twisted_pyhandlers._run" in graph
    assert findCycle(graph) == []


def test_stashDoesNotKnowRedis() -> None:
    """The base stash module never imports its Redis backend."""
    assert "twisted_pyhandlers.redisstash" not in importGraph()["twisted_pyhandlers.stash"]


#: Every public module (no leading underscore in any part of its name) and
#: the names it exports.
PUBLIC_EXPORTS = {
    "twisted_pyhandlers": [
        "HTTPException",
        "HandlerDirectory",
        "HandlerSite",
    ],
    "twisted_pyhandlers.allocator": [
        "MMAP_THRESHOLD",
        "TRIM_THRESHOLD",
        "keepFreedMemory",
    ],
    "twisted_pyhandlers.compat": [],
    "twisted_pyhandlers.compat.wptserve": [],
    "twisted_pyhandlers.compat.wptserve.constants": [
        "content_types",
        "h2_headers",
        "response_codes",
    ],
    "twisted_pyhandlers.compat.wptserve.handlers": [
        "Authentication",
        "FunctionHandler",
        "HTTPException",
        "JsonHandler",
        "MultipartContent",
        "Pipeline",
        "content_types",
        "filesystem_path",
        "guess_content_type",
        "handler",
        "json_handler",
        "load_headers",
        "parse_qs",
        "template",
        "wrap_pipeline",
    ],
    "twisted_pyhandlers.compat.wptserve.logger": [
        "get_logger",
    ],
    "twisted_pyhandlers.compat.wptserve.pipes": [
        "PipeTokenizer",
        "Pipeline",
        "boolean",
        "gzip",
        "header",
        "nullable",
        "opt",
        "pipe",
        "resolve_content",
        "slice",
        "status",
        "sub",
        "template",
        "trickle",
        "wrap_pipeline",
    ],
    "twisted_pyhandlers.compat.wptserve.request": [
        "Authentication",
        "BinaryCookieParser",
        "CookieValue",
        "Cookies",
        "HTTPException",
        "InputFile",
        "MultiDict",
        "Request",
        "RequestHeaders",
        "Server",
        "isomorphic_decode",
        "isomorphic_encode",
        "missing",
    ],
    "twisted_pyhandlers.compat.wptserve.response": [
        "MultipartContent",
        "MultipartPart",
        "Response",
        "ResponseHeaders",
        "ResponseWriter",
        "get_logger",
        "h2_headers",
        "isomorphic_decode",
        "isomorphic_encode",
        "missing",
        "response_codes",
    ],
    "twisted_pyhandlers.compat.wptserve.stash": [
        "Stash",
        "StashError",
        "isomorphic_encode",
        "load_env_config",
        "store_env_config",
    ],
    "twisted_pyhandlers.compat.wptserve.utils": [
        "HTTPException",
        "get_error_cause",
        "get_logger",
        "get_port",
        "http2_compatible",
        "invert_dict",
        "is_bad_port",
        "isomorphic_decode",
        "isomorphic_encode",
    ],
    "twisted_pyhandlers.config": [
        "ConfigKeyError",
        "ServerConfig",
        "schemeForEndpoint",
    ],
    "twisted_pyhandlers.managerstash": [
        "ManagerStashStore",
        "StashHost",
    ],
    "twisted_pyhandlers.hosts": [
        "chromiumSwitches",
        "hostResolverRules",
        "hostsFile",
        "main",
    ],
    "twisted_pyhandlers.pytest_plugin": [
        "pyhandlers",
        "pyhandlers_stubtreq",
    ],
    "twisted_pyhandlers.redisstash": [
        "RedisStashStore",
        "redactURL",
    ],
    "twisted_pyhandlers.resource": [
        "CheckoutRoutes",
        "DEFAULT_HANDLER_TIMEOUT",
        "DEFAULT_THREADS",
        "HandlerDirectory",
        "ResponseFilter",
        "ScriptInjection",
        "TreeRoutes",
        "sharedThreadPool",
    ],
    "twisted_pyhandlers.site": [
        "DEFAULT_HEADER_TIMEOUT",
        "DEFAULT_IDLE_TIMEOUT",
        "DEFAULT_MAX_BODY",
        "MAX_HEADERS",
        "MAX_HEADER_BLOCK",
        "MAX_LINE",
        "HandlerChannel",
        "HandlerRequest",
        "HandlerSite",
        "ReceivedHeaders",
    ],
    "twisted_pyhandlers.stash": [
        "MemoryStashStore",
        "Stash",
        "StashError",
        "StashLock",
        "StashStore",
        "StashUnavailable",
        "sharedMemoryStore",
    ],
    "twisted_pyhandlers.tap": [
        "DEFAULT_BACKLOG",
        "DEFAULT_LISTEN",
        "ListeningService",
        "OptionError",
        "Options",
        "QuietSite",
        "makeService",
        "withBacklog",
    ],
    "twisted_pyhandlers.testing": [
        "InProcessServer",
        "MemoryClient",
        "NotAnsweredInMemory",
        "SynchronousThreadPool",
        "memoryClient",
        "serve",
    ],
}


def _publicModules() -> List[str]:
    return sorted(name for name in _allModules() if not any(part.startswith("_") for part in name.split(".")))


def test_everyPublicModuleIsPinned() -> None:
    """Each public module appears in PUBLIC_EXPORTS: a new one must say what it offers."""
    assert _publicModules() == sorted(PUBLIC_EXPORTS)


@pytest.mark.parametrize("name", sorted(PUBLIC_EXPORTS))
def test_exports(name: str) -> None:
    """A public module's ``__all__`` is exactly the pinned list, and each name exists."""
    module = importlib.import_module(name)
    assert sorted(getattr(module, "__all__", [])) == sorted(PUBLIC_EXPORTS[name])
    for exported in module.__all__ if hasattr(module, "__all__") else []:
        assert hasattr(module, exported), f"{name}.{exported}"


def _differByOneLetter(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one letter added, removed or changed."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    for index in range(len(b)):
        if len(a) == len(b):
            if a[:index] + a[index + 1 :] == b[:index] + b[index + 1 :]:
                return True
        elif a == b[:index] + b[index + 1 :]:
            return True
    return False


def test_differByOneLetter() -> None:
    """The name check itself sees one letter added, removed or changed, and nothing more."""
    assert _differByOneLetter("site", "sites")
    assert _differByOneLetter("_http1", "_http2")
    assert _differByOneLetter("_pipes", "_pipe")
    assert not _differByOneLetter("_h11writer", "_h2writer")
    assert not _differByOneLetter("_output", "_output")


def test_noTwoModulesDifferByOneLetter() -> None:
    """
    No two modules of one package have names that differ by one letter
    (``site`` beside ``sites``): a newcomer names each at first sight.
    """
    close = []
    modules = sorted(_allModules())
    for first in modules:
        for second in modules:
            if first < second and first.rsplit(".", 1)[0] == second.rsplit(".", 1)[0]:
                if _differByOneLetter(first.rsplit(".", 1)[-1], second.rsplit(".", 1)[-1]):
                    close.append((first, second))
    assert close == []


#: The libraries of HTTP/2's wire format, and the only modules that may
#: import them: the HTTP/2 protocol, the HTTP/2 writer and the checks of
#: header blocks.
HTTP2_LIBRARIES = frozenset({"h2", "hyperframe", "hpack", "priority"})
HTTP2_LAYER = frozenset(
    {"twisted_pyhandlers._h2protocol", "twisted_pyhandlers._h2writer", "twisted_pyhandlers._h2validation"}
)

#: QUIC's library, and the only modules that may import it: the QUIC port,
#: its driver and HTTP/3 (the WebTransport handler API and the HTTP/3
#: writer know no wire library).
QUIC_LIBRARIES = frozenset({"aioquic"})
QUIC_LAYER = frozenset(
    {"twisted_pyhandlers._quic", "twisted_pyhandlers._http3", "twisted_pyhandlers._h3port"}
)

#: Who may import each writer: its own protocol (which names it as the
#: writer of its channel), and for HTTP/1.1 the run (the writer of a plain
#: Twisted channel, a plain Site) and the ``wptserve.response`` names.
WRITER_IMPORTERS = {
    "twisted_pyhandlers._h2writer": {"twisted_pyhandlers._h2protocol"},
    "twisted_pyhandlers._http3writer": {"twisted_pyhandlers._h3request"},
    "twisted_pyhandlers._h11writer": {
        "twisted_pyhandlers._h11protocol",
        "twisted_pyhandlers._run",
        "twisted_pyhandlers.compat.wptserve.response",
    },
}

#: Twisted's private HTTP/2 attributes: only the HTTP/2 protocol touches them.
TWISTED_H2_PRIVATE = frozenset(
    {
        "_conn",
        "_outboundStreamQueues",
        "_streamCleanupCallbacks",
        "_stillProducing",
        "_tryToWriteControlData",
        "_requestDone",
        "_sendPrioritisedData",
    }
)


def _externalImports(path: Path) -> Set[str]:
    """The top-level names of the modules outside the package that ``path`` imports."""
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_onlyTheHTTP2LayerImportsItsWireLibraries() -> None:
    """
    No module above the HTTP/2 writer (nor beside it) imports ``h2``,
    ``hyperframe``, ``hpack`` or ``priority``: only the writers know their
    wire format.
    """
    offenders = {
        name: sorted(_externalImports(path) & HTTP2_LIBRARIES)
        for name, path in _allModules().items()
        if name not in HTTP2_LAYER and _externalImports(path) & HTTP2_LIBRARIES
    }
    assert offenders == {}


def test_onlyTheQUICLayerImportsAioquic() -> None:
    """Only the QUIC port, its driver and HTTP/3 import ``aioquic``."""
    offenders = sorted(
        name for name, path in _allModules().items() if name not in QUIC_LAYER and _externalImports(path) & QUIC_LIBRARIES
    )
    assert offenders == []


def test_eachWriterIsImportedOnlyByItsProtocol() -> None:
    """
    The HTTP/2 writer is imported only by the HTTP/2 protocol; the HTTP/1.1
    writer only by the HTTP/1.1 protocol, the run (a plain Site's channel)
    and the compat names: no module above the writers picks a wire format,
    and neither writer imports the other.
    """
    graph = importGraph()
    for writer, allowed in WRITER_IMPORTERS.items():
        importers = {name for name, edges in graph.items() if writer in edges}
        assert importers <= allowed, (writer, sorted(importers - allowed))


def test_onlyTheHTTP2ProtocolTouchesTwistedsPrivateHTTP2State() -> None:
    """Twisted's private HTTP/2 attributes are read in one module, the HTTP/2 protocol's."""
    touching = set()
    for name, path in _allModules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        if any(isinstance(node, ast.Attribute) and node.attr in TWISTED_H2_PRIVATE for node in ast.walk(tree)):
            touching.add(name)
    assert touching <= {"twisted_pyhandlers._h2protocol"}


#: The most calls of getattr/hasattr the package may make: each one is a
#: seam nobody can see, so this number only goes down (58 before the
#: second architecture round).
MAX_GETATTR_CALLS = 25


def _countGetattr(tree: ast.AST) -> int:
    """How many calls of ``getattr``/``hasattr`` ``tree`` makes."""
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
    )


def _getattrCalls() -> Dict[str, int]:
    """How many calls of ``getattr``/``hasattr`` each module of the package makes."""
    counts: Dict[str, int] = {}
    for name, path in _allModules().items():
        calls = _countGetattr(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        if calls:
            counts[name] = calls
    return counts


def test_getattrCallsOnlyGoDown() -> None:
    """
    The package calls getattr/hasattr at most :data:`MAX_GETATTR_CALLS`
    times: collaborations between modules are named interfaces or plain
    imports, not guesses at what came in.
    """
    counts = _getattrCalls()
    assert sum(counts.values()) <= MAX_GETATTR_CALLS, counts


def test_getattrCountSeesCalls() -> None:
    """The count itself sees getattr and hasattr calls, and nothing else."""
    source = "getattr(a, 'b', None)\nif hasattr(a, 'c'):\n    setattr(a, 'd', 1)\nx.getattr(1)\n"
    assert _countGetattr(ast.parse(source)) == 2


#: Every module outside the standard library the package imports, and the
#: requirement of setup.py that declares it (an extra of Twisted's, or the
#: requirement itself).
DECLARED_IMPORTS = {
    "twisted": "twisted",
    "zope": "twisted",  # zope.interface, Twisted's own dependency
    "OpenSSL": "twisted",  # twisted[tls]
    "h2": "twisted",  # twisted[http2]
    "priority": "twisted",  # twisted[http2] (the send loop of _h2protocol waits on its DeadlockError)
    "hpack": "hpack",
    "hyperframe": "hyperframe",
    "cryptography": "cryptography",
    "treq": "treq",
    "redis": "redis",
    "multipart": "multipart",
    "pywebsocket3": "pywebsocket3",
    "html5lib": "html5lib",
    "aioquic": "aioquic",  # the QUIC ports (webtransport-h3, h3)
    "pytest": "pytest",  # the pytest plugin, which only pytest loads (the test extra)
}


def test_everyImportIsDeclared() -> None:
    """
    Every module the package imports is the standard library, the package,
    or declared in setup.py (hpack and hyperframe too, not merely arriving
    with h2).
    """
    setupText = (PACKAGE_DIR.parent / "setup.py").read_text(encoding="utf-8")
    for name, path in _allModules().items():
        for imported in _externalImports(path) - set(sys.stdlib_module_names) - {PACKAGE}:
            assert imported in DECLARED_IMPORTS, (name, imported)
            assert f'"{DECLARED_IMPORTS[imported]}' in setupText, (name, imported)
