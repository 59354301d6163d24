"""
A static file (or one byte range of it) as a response body that is read in
chunks while it is written, never whole.

It is file-like, so :meth:`Response.iter_content` streams it 32 KiB at a time
and pipes that need the whole body (``sub``, ``slice``, ``gzip``,
``trickle``) can still read it.  Because it knows how many bytes it will
give, the writer (:func:`twisted_pyhandlers._h11writer.knownLength`) sends a
Content-Length for a file no pipe changed.
"""

from __future__ import annotations

from typing import IO


class FileBody:
    """
    ``length`` bytes of an open binary file, starting at ``offset``.

    Read in the worker thread that writes the response; closed by the
    reader once exhausted (as ``iter_content`` does).

    :ivar remaining: how many bytes the body still has to give.
    """

    def __init__(self, fileObject: IO[bytes], offset: int, length: int) -> None:
        self._file = fileObject
        self._file.seek(offset)
        self.remaining = length

    def read(self, size: int | None = -1) -> bytes:
        """Read up to ``size`` bytes (all that is left for -1 or None)."""
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        if size == 0:
            return b""
        data = self._file.read(size)
        self.remaining -= len(data)
        if not data:
            # The file shrank under us: stop rather than spin.
            self.remaining = 0
        return data

    def close(self) -> None:
        """Close the underlying file."""
        self._file.close()
