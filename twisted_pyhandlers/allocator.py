"""
Keeping the memory of large response bodies in the server process.

A handler builds its body in a pool thread; the reactor thread sends it and
lets it go.  With glibc's default settings, a freed block of a megabyte or
so goes back to the kernel: a thread's malloc heap is trimmed (``madvise``)
as soon as more than twice the mmap threshold lies free at its top, which
several bodies in flight easily reach.  The next body of that size then
faults every one of its pages back in (``docs/performance.rst`` has what
that costs).

A server process can decide to keep those pages for the next body; a library
cannot decide that for whatever program imports it.  So ``twistd
pyhandlers`` calls :func:`keepFreedMemory` at start-up (unless given
``--keep-malloc-defaults``), and a program that composes the resource into
its own ``Site`` may call it too.
"""

from __future__ import annotations

import ctypes
import platform

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keepFreedMemory"]

#: ``mallopt`` parameters, from glibc's ``<malloc.h>``.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Blocks up to this size come from malloc's heaps, where a freed block is
#: reused, instead of being mapped and unmapped each time.  32 MiB is the
#: largest value glibc accepts on 64-bit systems.
MMAP_THRESHOLD = 32 * 1024 * 1024

#: Free memory at the top of a heap is given back to the kernel only beyond
#: this much.  It bounds what an idle server keeps after a burst of large
#: bodies, per malloc heap.
TRIM_THRESHOLD = 64 * 1024 * 1024


def keepFreedMemory() -> bool:
    """
    Tell glibc's malloc to keep freed blocks of up to
    :data:`MMAP_THRESHOLD` for reuse, instead of returning them to the
    kernel and faulting them in again for the next response.

    Process-wide, so only for a program that owns its process (such as
    ``twistd pyhandlers``).

    :return: True if the settings were applied; False where the C library
        is not glibc (nothing is changed there).
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    # mallopt returns 1 on success.  Setting either value also turns off
    # glibc's own adjustment of both, which is what let the heap be trimmed.
    applied = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    applied = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and applied
    return applied
