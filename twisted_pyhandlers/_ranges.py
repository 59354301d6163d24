"""
``Range`` request headers, parsed and answered as wptserve answers them.

Twisted's :class:`twisted.web.static.File` follows RFC 9110 where wptserve
does not: it ignores a malformed header (200 with the whole file) and never
merges overlapping ranges.  Test suites were written against wptserve, so we
keep its rules:

- the header must be ASCII (else 400) and start with ``bytes=`` (else 416);
- every comma-separated item must be ``FIRST-LAST``, ``FIRST-`` or
  ``-SUFFIX`` with decimal integers, and must select at least one byte of
  the file (else 416 — wptserve makes no difference between "malformed" and
  "unsatisfiable");
- overlapping or touching ranges are merged (with wptserve's quirks, see
  :func:`_coalesce`).
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted_pyhandlers._errors import HTTPException


class RangeError(HTTPException):
    """
    A ``Range`` header that cannot be answered (400 or 416).

    :ivar errorText: the message wptserve puts in its JSON error body.
        wptserve shows ``str()`` of its exception there, which is
        ``"(416, 'Bad range specifier ...')"`` when the message was passed
        positionally and a bare ``"416"`` for the one place it passes it by
        keyword (an unknown range unit); we reproduce both.
    """

    def __init__(
        self, code: int, message: str, *, keywordMessage: bool = False
    ) -> None:
        super().__init__(code, message)
        self.errorText = str(code) if keywordMessage else str((code, message))


@dataclass(frozen=True)
class ByteRange:
    """
    One satisfiable range of a file of ``fileSize`` bytes: ``lower`` is the
    first byte, ``upper`` one past the last (so ``upper - lower`` is the
    length).
    """

    lower: int
    upper: int
    fileSize: int

    @property
    def length(self) -> int:
        """How many bytes the range selects."""
        return self.upper - self.lower

    def headerValue(self) -> str:
        """The ``Content-Range`` value for this range."""
        return f"bytes {self.lower}-{self.upper - 1}/{self.fileSize}"


def _absolute(lower: int | None, upper: int | None, fileSize: int) -> ByteRange:
    """
    Turn one parsed item into absolute offsets, as wptserve's ``Range`` does.

    :raises ValueError: when the range selects nothing of the file.
    """
    if lower is None and upper is None:
        start, end = 0, fileSize
    elif lower is None:
        assert upper is not None
        start, end = max(0, fileSize - upper), fileSize
    elif upper is None:
        start, end = lower, fileSize
    else:
        start, end = lower, min(fileSize, upper + 1)
    if start >= end or start >= fileSize:
        raise ValueError("empty range")
    return ByteRange(start, end, fileSize)


def _coalesce(ranges: list[ByteRange]) -> list[ByteRange]:
    """
    Merge ranges exactly as wptserve's ``RangeParser.coalesce_ranges`` does:
    walk them from the highest start down, merging each into the one before
    it when their bounds overlap or touch (``0-4`` and ``5-9`` merge).

    Like wptserve, only neighbours in that walk are compared, so a range
    nested in a larger one behind a third range is kept (``0-9,2-2,5-5``
    gives ``0-9`` and ``5-5``): we copy that instead of "fixing" it, because
    a client sees exactly which parts it gets.
    """
    result: list[ByteRange] = []
    target: ByteRange | None = None
    for current in reversed(sorted(ranges, key=lambda r: r.lower)):  # noqa: C413 (stability)
        if target is None:
            target = current
            continue
        if target.upper < current.lower or target.lower > current.upper:
            first, second = sorted([target, current], key=lambda r: r.lower)
            target = first
            result.append(second)
        else:
            target = ByteRange(
                min(target.lower, current.lower),
                max(target.upper, current.upper),
                target.fileSize,
            )
    if target is not None:
        result.append(target)
    return result[::-1]


def parseRange(header: bytes, fileSize: int) -> list[ByteRange]:
    """
    The ranges a ``Range`` header asks of a file of ``fileSize`` bytes,
    merged and sorted.  Safe in any thread.

    :raises RangeError: 400 for a non-ASCII header, 416 for anything
        malformed or unsatisfiable (with wptserve's messages).
    """
    try:
        text = header.decode("ascii")
    except UnicodeDecodeError:
        raise RangeError(400, "Non-ASCII range header value")
    prefix = "bytes="
    if not text.startswith(prefix):
        raise RangeError(416, f"Unrecognised range type {text}", keywordMessage=True)
    ranges: list[ByteRange] = []
    for item in text[len(prefix) :].split(","):
        components = item.split("-")
        if len(components) != 2:
            raise RangeError(416, f"Bad range specifier {item}")
        bounds: list[int | None] = []
        for component in components:
            if component == "":
                bounds.append(None)
                continue
            try:
                bounds.append(int(component))
            except ValueError:
                raise RangeError(416, f"Bad range specifier {item}")
        try:
            ranges.append(_absolute(bounds[0], bounds[1], fileSize))
        except ValueError:
            raise RangeError(416, f"Bad range specifier {item}")
    return _coalesce(ranges)
