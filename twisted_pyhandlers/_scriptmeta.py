"""
The ``// META:`` lines of a web-platform-tests script test (``*.any.js``,
``*.window.js``, ``*.worker.js``) and the rules for its ``global=`` line.

They are read as wpt reads them (``read_script_metadata``, ``js_meta_re`` and
``parse_variants`` in ``tools/manifest/sourcefile.py``): the metadata is the
run of ``// META: key=value`` lines at the top of the file, ending at the
first line that is not one; ``global=`` names the scopes a test runs in,
and a generated page for a scope that is not among them is a 404.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import FrozenSet

__all__ = ["DEFAULT_GLOBALS", "globalsOf", "metadataLines", "parseGlobals"]

#: One metadata line, as wpt's ``js_meta_re``: the key is word characters
#: (possibly none), the value everything after the first ``=`` up to the end
#: of the line (a ``\r`` of a CRLF file included, as in wpt).
_META_LINE = re.compile(rb"//\s*META:\s*(\w*)=(.*)$")

#: The scopes a test runs in without a ``global=`` line (or with an empty one).
DEFAULT_GLOBALS: FrozenSet[str] = frozenset({"window", "dedicatedworker"})

#: What each word of a ``global=`` value stands for, as wpt's
#: ``_any_variants``: ``worker`` is the three classic worker scopes; every
#: other known word is the scope of its own name; an unknown word (``!x``
#: included) stands for nothing.  ``window-module`` and ``shadowrealm`` are
#: today's wpt's; a 2021 checkout never names them.
_GLOBAL_WORDS: dict[str, FrozenSet[str]] = {
    "window": frozenset({"window"}),
    "window-module": frozenset({"window-module"}),
    "dedicatedworker": frozenset({"dedicatedworker"}),
    "dedicatedworker-module": frozenset({"dedicatedworker-module"}),
    "sharedworker": frozenset({"sharedworker"}),
    "sharedworker-module": frozenset({"sharedworker-module"}),
    "serviceworker": frozenset({"serviceworker"}),
    "serviceworker-module": frozenset({"serviceworker-module"}),
    "worker": frozenset({"dedicatedworker", "sharedworker", "serviceworker"}),
    "worker-module": frozenset({"worker-module"}),
    "shadowrealm": frozenset({"shadowrealm"}),
    "jsshell": frozenset({"jsshell"}),
}


def metadataLines(lines: Iterable[bytes]) -> Iterator[tuple[str, str]]:
    """
    The ``(key, value)`` pairs of the ``// META:`` lines at the top of a
    script, in order, stopping at the first line that is not one.  Keys and
    values are decoded as UTF-8 (wpt does the same, and fails alike on
    bytes that are not).

    :raises UnicodeDecodeError: for a metadata line that is not UTF-8.
    """
    for line in lines:
        match = _META_LINE.match(line)
        if match is None:
            return
        yield match.group(1).decode("utf-8"), match.group(2).decode("utf-8")


def parseGlobals(value: str) -> FrozenSet[str]:
    """
    The scopes a ``global=`` value names: :data:`DEFAULT_GLOBALS` for an
    empty value, else the union of what each comma-separated word stands for
    (wpt's ``parse_variants``).
    """
    if value == "":
        return DEFAULT_GLOBALS
    scopes: set[str] = set()
    for word in value.split(","):
        scopes |= _GLOBAL_WORDS.get(word.strip(), frozenset())
    return frozenset(scopes)


def globalsOf(metadata: Iterable[tuple[str, str]]) -> FrozenSet[str]:
    """The scopes of a test: those of its first ``global=`` line, else the defaults."""
    for key, value in metadata:
        if key == "global":
            return parseGlobals(value)
    return DEFAULT_GLOBALS
