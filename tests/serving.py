"""
Helpers shared by the test modules (fixtures live in ``conftest.py``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable

from twisted.web.resource import IResource

#: The ``serve`` fixture: ``serve(resource) -> "http://127.0.0.1:PORT"``.
Serve = Callable[[IResource], str]


class HandlerRoot:
    """A temporary document root that tests write handler files into."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, relative: str, source: str) -> Path:
        """Write ``source`` (dedented) to ``relative`` under the root."""
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source))
        return target
