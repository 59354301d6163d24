"""
The public names of every object a handler is handed and of every
``wptserve.*`` module a handler imports, for the sweep of issue 11.
"""

import importlib
import inspect
import json
from typing import TypeVar

MODULES = ["utils", "pipes", "handlers", "stash", "constants", "request", "response", "logger"]


def names(obj):
    return sorted(n for n in dir(obj) if not n.startswith("_"))


def moduleNames(module):
    """The names a module offers handlers: not the modules, typing helpers
    and standard-library names it happens to import."""
    offered = []
    for name in names(module):
        value = getattr(module, name)
        if inspect.ismodule(value) or isinstance(value, TypeVar):
            continue
        owner = getattr(value, "__module__", None)
        if isinstance(owner, str) and not owner.startswith(("wptserve", "twisted_pyhandlers")):
            continue
        offered.append(name)
    return offered


def main(request, response):
    out = {
        "request": names(request),
        "request.headers": names(request.headers),
        "request.raw_headers": names(request.raw_headers),
        "request.raw_input": names(request.raw_input),
        "request.GET": names(request.GET),
        "request.POST": names(request.POST),
        "request.cookies": names(request.cookies),
        "request.auth": names(request.auth),
        "request.server": names(request.server),
        "request.server.stash": names(request.server.stash),
        "response": names(response),
        "response.headers": names(response.headers),
        "response.writer": names(response.writer),
    }
    for name in MODULES:
        out["wptserve." + name] = moduleNames(importlib.import_module("wptserve." + name))
    return [("Content-Type", "application/json")], json.dumps(out, indent=1)
