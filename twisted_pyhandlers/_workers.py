"""
``--workers N``: several server processes sharing every listening port.
"""

from __future__ import annotations

import os


def autoWorkerCount() -> int:
    """
    How many workers ``--workers auto`` starts: the CPUs this process may
    run on (its affinity mask; ``os.cpu_count()`` where that is unknown).
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
