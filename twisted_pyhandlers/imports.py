"""
What handler code can import.

- The document root is importable, so ``from cookies.resources import
  helpers`` and ``importlib.import_module("a-b.resources.helper")`` work,
  as in a web-platform-tests checkout.
- ``import wptserve...`` works with no wptserve installed: the names real
  handlers use (``wptserve.utils``, ``wptserve.handlers``,
  ``wptserve.constants``, ``wptserve.pipes``, ``wptserve.stash``) are served
  from :mod:`twisted_pyhandlers.compat.wptserve`.  Where a real wptserve is
  installed, it is the one imported: we only fill the gap.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Optional, Sequence

_COMPAT_PACKAGE = "twisted_pyhandlers.compat.wptserve"
_lock = threading.Lock()


def makeImportable(root: str) -> None:
    """
    Put ``root`` on ``sys.path`` (once).  It goes last, so a directory of
    the root never hides the standard library or an installed package.
    """
    with _lock:
        if root not in sys.path:
            sys.path.append(root)


class _WptserveCompatFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """
    Serves ``wptserve`` and ``wptserve.*`` from our compatibility package
    when no real wptserve can be found.  It sits at the end of
    ``sys.meta_path``, so it is asked only after every normal finder failed.
    """

    def find_spec(
        self,
        fullname: str,
        path: Optional[Sequence[str]],
        target: Optional[ModuleType] = None,
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != "wptserve" and not fullname.startswith("wptserve."):
            return None
        compatName = _COMPAT_PACKAGE + fullname[len("wptserve"):]
        if importlib.util.find_spec(compatName) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=fullname == "wptserve")

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        # The very module object of the compatibility package, so that
        # ``wptserve.utils.HTTPException is twisted_pyhandlers...HTTPException``.
        return importlib.import_module(_COMPAT_PACKAGE + spec.name[len("wptserve"):])

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the compatibility module is already executed."""


def installWptserveCompat() -> None:
    """Make ``import wptserve`` work in handlers (once per process)."""
    with _lock:
        if not any(isinstance(finder, _WptserveCompatFinder) for finder in sys.meta_path):
            sys.meta_path.append(_WptserveCompatFinder())
