"""
Compiled handler code, cached by (path, mtime, size).

wptserve reads and compiles a handler file on every request.  We compile it
once and reuse the code object until the file changes: an edited file takes
effect on the next request (its mtime or size differs), an unchanged one is
never re-read.  The module body still runs for every request, in a fresh
namespace, exactly as on wptserve.
"""

from __future__ import annotations

import os
import threading
from types import CodeType
from typing import Dict, Tuple

Signature = Tuple[int, int]


class CodeCache:
    """
    A thread-safe map from a handler's path to its compiled code.

    Called from handler threads; one ``os.stat`` per request is the whole
    cost of a cache hit.

    :ivar compilations: how many times a file was read and compiled (tests
        and the benchmark read it).
    """

    def __init__(self) -> None:
        self._entries: Dict[str, Tuple[Signature, CodeType]] = {}
        self._lock = threading.Lock()
        self.compilations = 0

    def get(self, path: str) -> CodeType:
        """
        The code object for the file at ``path``, compiled only if the file
        is new or changed since last time.

        :raises OSError: if the file cannot be read.
        :raises SyntaxError: if it does not compile (not cached, so fixing
            the file fixes the next request).
        """
        stat = os.stat(path)
        signature = (stat.st_mtime_ns, stat.st_size)
        entry = self._entries.get(path)
        if entry is not None and entry[0] == signature:
            return entry[1]
        with open(path, "rb") as source:
            code = compile(source.read(), path, "exec")
        with self._lock:
            self._entries[path] = (signature, code)
            self.compilations += 1
        return code
