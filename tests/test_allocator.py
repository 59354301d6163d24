"""
``keepFreedMemory``: large blocks freed by another thread are reused instead
of being given back to the kernel and faulted in again.

Measured in child processes (the setting is process-wide) by the page
faults of a real allocation pattern: a worker thread builds eight 1 MiB
bodies, the main thread frees them, fifty times over.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

ROUNDS = 50
BODIES = 8
PAGES_PER_ROUND = BODIES * (1 << 20) // 4096

CHILD = textwrap.dedent(
    f"""
    import queue, resource, sys, threading
    from twisted_pyhandlers.allocator import keepFreedMemory

    if sys.argv[1] == "keep":
        assert keepFreedMemory()
    built, freed = queue.SimpleQueue(), queue.SimpleQueue()

    def build():
        for _ in range({ROUNDS}):
            built.put([b"x" * (1 << 20) for _ in range({BODIES})])
            freed.get()
        built.put(None)

    worker = threading.Thread(target=build)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    worker.start()
    while (bodies := built.get()) is not None:
        del bodies
        freed.put(None)
    worker.join()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def pageFaults(mode: str) -> int:
    """Minor page faults of the allocation pattern in a fresh process."""
    result = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_freedBodiesAreReused() -> None:
    """
    With the setting, only the first round faults its pages in; without
    it, glibc trims the heap and every round faults them in again.
    """
    kept = pageFaults("keep")
    default = pageFaults("default")
    assert kept < 3 * PAGES_PER_ROUND, (kept, default)
    # The pattern does show glibc's default behaviour: otherwise the first
    # assertion would prove nothing.
    assert default > ROUNDS * PAGES_PER_ROUND // 2, (kept, default)
