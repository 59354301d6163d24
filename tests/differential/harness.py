"""
Send the same request to wptserve 4.0.3 and to our server and say how the
answers differ.

The client here is deliberately tiny and literal: one blocking socket per
request, the request written byte for byte as the case gives it, and the
response split into status line, header list (original case, original order,
duplicates kept) and body (de-chunked when the server chunked it).  Nothing
is normalised unless a case asks for it by name, so a reason phrase, a
duplicate header or an odd status code is visible.

Comparison rules (``compare``):

- the status lines must be byte-equal (version, code and reason phrase);
- headers are compared per name, case-insensitively, each name's list of
  values in the order received; ``Date`` and ``Server`` are left out;
- bodies must be byte-equal (or, for 500 errors whose body carries a
  traceback, equal as the JSON error structure: see ``JSON_ERROR``);
- anything else that differs must be named in the case's
  ``knownDifferences``, each of which refers to a documented
  :class:`KnownDifference`; a known difference that does not actually occur
  is itself reported, so the list cannot go stale.

Everything here is synchronous and runs in the pytest thread: both servers
run in their own processes (see ``conftest.py``).
"""

from __future__ import annotations

import difflib
import json
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: The Host header every request carries unless a case overrides it.  Both
#: servers build ``request.url`` from it, so absolute URLs (redirect
#: ``Location``, echoed ``request.url``) match without rewriting ports.
DEFAULT_HOST = b"web-platform.test:8000"

#: Header names never compared: they legitimately differ on every response.
IGNORED_HEADERS = frozenset({b"date", b"server"})

#: Seconds to wait for any one socket operation before calling it a hang.
TIMEOUT = 5.0

#: Body comparison by JSON error structure; see :func:`compareJsonError`.
JSON_ERROR = "json-error"
#: Body comparison byte for byte.
EXACT = "exact"


class ClientError(Exception):
    """
    The server's answer could not be read as HTTP (or did not come in time).
    """


@dataclass(frozen=True)
class RawResponse:
    """
    What the client saw, as sent.

    :ivar statusLine: The first line, without CRLF.
    :ivar headers: ``(name, value)`` pairs in the order received, original
        case, values stripped of surrounding whitespace.
    :ivar body: The body, de-chunked if the server used chunked coding.
    :ivar chunked: Whether the body came chunked.
    :ivar raw: Every byte received.
    """

    statusLine: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    chunked: bool
    raw: bytes

    @property
    def code(self) -> int | None:
        """
        The status code, or None if the status line has none.
        """
        parts = self.statusLine.split(b" ", 2)
        try:
            return int(parts[1])
        except (IndexError, ValueError):
            return None

    @property
    def reason(self) -> bytes:
        """
        The reason phrase as sent (possibly empty).
        """
        parts = self.statusLine.split(b" ", 2)
        return parts[2] if len(parts) > 2 else b""

    def headerValues(self, name: bytes) -> list[bytes]:
        """
        Every value of header ``name`` (case-insensitive), in order.
        """
        name = name.lower()
        return [v for (n, v) in self.headers if n.lower() == name]

    def headerMap(self) -> dict[bytes, list[bytes]]:
        """
        Lower-cased header name to its values in order, less the ignored
        names.
        """
        result: dict[bytes, list[bytes]] = {}
        for name, value in self.headers:
            lower = name.lower()
            if lower in IGNORED_HEADERS:
                continue
            result.setdefault(lower, []).append(value)
        return result


def _toBytes(value: str | bytes | int) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, int):
        return b"%d" % (value,)
    return value.encode("latin-1")


class _Reader:
    """
    Buffered reads from a blocking socket, keeping every byte seen.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        self.raw = b""
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            data = self._sock.recv(65536)
        except TimeoutError:
            raise ClientError(
                f"timed out after {TIMEOUT}s; received so far: {self.raw[:2000]!r}"
            ) from None
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self._buffer += data
        self.raw += data
        return True

    def readUntil(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            if not self._fill():
                raise ClientError(
                    f"connection closed before {marker!r}; received: {self.raw[:2000]!r}"
                )
        index = self._buffer.index(marker) + len(marker)
        data, self._buffer = self._buffer[:index], self._buffer[index:]
        return data

    def readExactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            if not self._fill():
                raise ClientError(
                    f"connection closed after {len(self._buffer)} of {count} "
                    f"body bytes; received: {self.raw[:2000]!r}"
                )
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def readToEnd(self) -> bytes:
        while self._fill():
            pass
        data, self._buffer = self._buffer, b""
        return data


def _dechunk(reader: _Reader) -> bytes:
    parts: list[bytes] = []
    while True:
        sizeLine = reader.readUntil(b"\r\n")[:-2]
        try:
            size = int(sizeLine.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ClientError(f"bad chunk size line {sizeLine!r}") from None
        if size == 0:
            # Trailers, then the empty line.
            while reader.readUntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(reader.readExactly(size))
        reader.readExactly(2)


def request(
    address: tuple[str, int],
    path: str | bytes,
    method: str | bytes = b"GET",
    headers: Sequence[tuple[str | bytes, str | bytes | int]] | None = None,
    body: bytes | None = None,
    host: bytes | None = DEFAULT_HOST,
    readToClose: bool = False,
) -> RawResponse:
    """
    Send one HTTP/1.1 request on a fresh connection and read one response.

    :param address: ``(host, port)`` to connect to.
    :param path: The request target, sent as given.
    :param headers: Extra header lines in order (duplicates allowed).
    :param body: Sent as given; a Content-Length is added unless the case
        gave one.
    :param host: The Host header (None: send none).
    :param readToClose: Send ``Connection: close`` and take every byte up to
        the server's close as the body (de-chunked if chunked).  Needed where
        HTTP framing would hide bytes, e.g. a body sent for HEAD.  Otherwise
        the body is framed by Content-Length, chunking or the close, as HTTP
        says, and the client closes the connection afterwards.

    Runs in the calling thread and blocks.
    """
    methodBytes = _toBytes(method)
    lines = [b"%s %s HTTP/1.1" % (methodBytes, _toBytes(path))]
    if host is not None:
        lines.append(b"Host: " + host)
    given = [(_toBytes(n), _toBytes(v)) for (n, v) in (headers or [])]
    lines.extend(n + b": " + v for (n, v) in given)
    if body is not None and not any(n.lower() == b"content-length" for n, _ in given):
        lines.append(b"Content-Length: %d" % (len(body),))
    if readToClose:
        lines.append(b"Connection: close")
    data = b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")

    with socket.create_connection(address, timeout=TIMEOUT) as sock:
        sock.sendall(data)
        reader = _Reader(sock)
        head = reader.readUntil(b"\r\n\r\n")
        headLines = head[:-4].split(b"\r\n")
        statusLine = headLines[0]
        responseHeaders = []
        for line in headLines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise ClientError(f"header line without a colon: {line!r}")
            responseHeaders.append((name, value.strip(b" \t")))
        lowered = [(n.lower(), v) for (n, v) in responseHeaders]
        chunked = any(
            n == b"transfer-encoding" and v.lower().endswith(b"chunked")
            for (n, v) in lowered
        )
        code = RawResponse(statusLine, [], b"", False, b"").code
        lengths = [v for (n, v) in lowered if n == b"content-length"]
        if readToClose:
            if chunked:
                responseBody = _dechunk(reader)
                reader.readToEnd()
            else:
                responseBody = reader.readToEnd()
        elif (
            methodBytes == b"HEAD"
            or code in (204, 304)
            or (code is not None and 100 <= code < 200)
        ):
            responseBody = b""
        elif chunked:
            responseBody = _dechunk(reader)
        elif lengths:
            try:
                length = int(lengths[0])
            except ValueError:
                raise ClientError(f"bad Content-Length {lengths[0]!r}") from None
            responseBody = reader.readExactly(length)
        else:
            responseBody = reader.readToEnd()
        return RawResponse(
            statusLine, responseHeaders, responseBody, chunked, reader.raw
        )


@dataclass(frozen=True)
class KnownDifference:
    """
    A difference from wptserve that we keep on purpose.

    :ivar id: Short name; ``docs/differences/handlers.rst`` mentions it
        (a test checks).
    :ivar fields: What differs: lower-case header names, ``"status-line"``,
        ``"body"``; every one of them must differ where a case allows it.
    :ivar reason: Why we keep it.
    """

    id: str
    fields: tuple[str, ...]
    reason: str


@dataclass
class Comparison:
    """
    The outcome of one differential request.

    :ivar problems: Human-readable differences not covered by a known one.
    :ivar seen: The known differences that did occur.
    """

    path: str
    theirs: RawResponse
    ours: RawResponse
    problems: list[str] = field(default_factory=list)
    seen: list[KnownDifference] = field(default_factory=list)

    def report(self) -> str:
        """
        Everything worth reading when the comparison failed.
        """
        return "\n".join(
            [f"{self.path}: {len(self.problems)} difference(s)"]
            + [f"- {p}" for p in self.problems]
            + [
                "wptserve raw response (first 1500 bytes):",
                repr(self.theirs.raw[:1500]),
                "our raw response (first 1500 bytes):",
                repr(self.ours.raw[:1500]),
            ]
        )


def _textDiff(theirs: bytes, ours: bytes) -> str:
    def pretty(data: bytes) -> list[str]:
        try:
            return json.dumps(json.loads(data), indent=2, sort_keys=True).splitlines()
        except ValueError:
            return data.decode("latin-1").splitlines()

    lines = difflib.unified_diff(
        pretty(theirs), pretty(ours), "wptserve", "ours", lineterm="", n=2
    )
    return "\n    ".join(lines)


def compareJsonError(
    theirs: RawResponse, ours: RawResponse, url: str, mustContain: Iterable[str]
) -> list[str]:
    """
    Compare two JSON error bodies whose messages carry tracebacks.

    The tracebacks name different server frames and file paths, so the
    bodies cannot be byte-equal; instead both must be
    ``{"error": {"code": C, "message": M}}`` with the same ``C`` and the
    same key structure, each ``M`` must name ``url``, carry a traceback and
    contain every string of ``mustContain``, and each response's
    Content-Length must match its own body.
    """
    problems = []
    for label, response in (("wptserve", theirs), ("ours", ours)):
        try:
            decoded = json.loads(response.body)
        except ValueError:
            problems.append(f"{label}: body is not JSON: {response.body[:300]!r}")
            continue
        if not (
            isinstance(decoded, dict)
            and list(decoded) == ["error"]
            and isinstance(decoded["error"], dict)
            and sorted(decoded["error"]) == ["code", "message"]
        ):
            problems.append(f"{label}: not the JSON error shape: {decoded!r}")
            continue
        message = decoded["error"]["message"]
        if decoded["error"]["code"] != response.code:
            problems.append(
                f"{label}: JSON code {decoded['error']['code']!r} is not the "
                f"status {response.code}"
            )
        for needle in [url, "Traceback", *mustContain]:
            if needle not in message:
                problems.append(f"{label}: error message lacks {needle!r}: {message!r}")
        lengths = response.headerValues(b"content-length")
        if lengths != [b"%d" % len(response.body)]:
            problems.append(
                f"{label}: Content-Length {lengths!r} does not match the "
                f"{len(response.body)}-byte body"
            )
    return problems


class Harness:
    """
    The two servers under comparison.

    :param theirs: Base URL of wptserve, e.g. ``http://127.0.0.1:1234``.
    :param ours: Base URL of our server.
    """

    def __init__(self, theirs: str, ours: str) -> None:
        self.theirs = _address(theirs)
        self.ours = _address(ours)

    def compare(
        self,
        path: str,
        method: str = "GET",
        headers: Sequence[tuple[str | bytes, str | bytes | int]] | None = None,
        body: bytes | None = None,
        *,
        knownDifferences: Sequence[KnownDifference] = (),
        bodyMode: str = EXACT,
        mustContain: Sequence[str] = (),
        readToClose: bool = False,
        host: bytes | None = DEFAULT_HOST,
        normalise: Callable[[bytes], bytes] | None = None,
    ) -> Comparison:
        """
        Send the same request to both servers and compare the answers.

        :param knownDifferences: Differences this case is allowed to show;
            each must actually occur.
        :param bodyMode: :data:`EXACT` or :data:`JSON_ERROR`.
        :param mustContain: For :data:`JSON_ERROR`: strings each error
            message must contain besides the URL and ``Traceback``.
        :param normalise: Applied to every header value and to the body of
            both responses before comparing, for values that legitimately
            differ (e.g. a port); name it in the case.

        Runs in the calling thread and blocks.
        """
        theirs = request(
            self.theirs, path, method, headers, body, host=host, readToClose=readToClose
        )
        ours = request(
            self.ours, path, method, headers, body, host=host, readToClose=readToClose
        )
        url = path if host is None else "http://" + host.decode("latin-1") + path
        return diff(
            path,
            theirs,
            ours,
            knownDifferences=knownDifferences,
            bodyMode=bodyMode,
            mustContain=mustContain,
            url=url,
            normalise=normalise,
        )

    def assertSame(self, path: str, **kwargs: object) -> Comparison:
        """
        :meth:`compare` and fail the test with a readable report on any
        unexplained difference.
        """
        comparison = self.compare(path, **kwargs)  # type: ignore[arg-type]
        if comparison.problems:
            raise AssertionError(comparison.report())
        return comparison


def diff(
    path: str,
    theirs: RawResponse,
    ours: RawResponse,
    *,
    knownDifferences: Sequence[KnownDifference] = (),
    bodyMode: str = EXACT,
    mustContain: Sequence[str] = (),
    url: str = "",
    normalise: Callable[[bytes], bytes] | None = None,
) -> Comparison:
    """
    Compare two responses by the rules in this module's docstring.

    :param url: The absolute URL error messages must name
        (:data:`JSON_ERROR` only).

    Pure function; runs in any thread.
    """
    if normalise is not None:
        theirs = _normalised(theirs, normalise)
        ours = _normalised(ours, normalise)
    comparison = Comparison(path, theirs, ours)
    known = {f: k for k in knownDifferences for f in k.fields}
    differing: list[tuple[str, str]] = []

    if theirs.statusLine != ours.statusLine:
        differing.append(
            (
                "status-line",
                f"status line: wptserve {theirs.statusLine!r}, ours {ours.statusLine!r}",
            )
        )

    theirHeaders = theirs.headerMap()
    ourHeaders = ours.headerMap()
    bodyChecked = False
    if bodyMode == JSON_ERROR:
        problems = compareJsonError(theirs, ours, url, mustContain)
        comparison.problems.extend(problems)
        theirHeaders.pop(b"content-length", None)
        ourHeaders.pop(b"content-length", None)
        bodyChecked = True
    for name in sorted(set(theirHeaders) | set(ourHeaders)):
        a = theirHeaders.get(name)
        b = ourHeaders.get(name)
        if a != b:
            differing.append(
                (
                    name.decode("latin-1"),
                    f"header {name.decode('latin-1')}: wptserve {a!r}, ours {b!r}",
                )
            )
    if not bodyChecked and theirs.body != ours.body:
        differing.append(
            (
                "body",
                "body differs:\n    "
                + (
                    _textDiff(theirs.body, ours.body)
                    or f"wptserve {theirs.body[:500]!r}\n    ours {ours.body[:500]!r}"
                ),
            )
        )

    for fieldName, text in differing:
        if fieldName in known:
            if known[fieldName] not in comparison.seen:
                comparison.seen.append(known[fieldName])
        else:
            comparison.problems.append(text)
    differingFields = {f for f, _ in differing}
    for fieldName, difference in known.items():
        if fieldName not in differingFields:
            comparison.problems.append(
                f"known difference {difference.id!r} ({fieldName}) did not "
                "occur: drop it from the case (and the docs) if it is gone"
            )
    return comparison


def _normalised(
    response: RawResponse, normalise: Callable[[bytes], bytes]
) -> RawResponse:
    return RawResponse(
        response.statusLine,
        [(n, normalise(v)) for (n, v) in response.headers],
        normalise(response.body),
        response.chunked,
        response.raw,
    )


def _address(baseURL: str) -> tuple[str, int]:
    parts = urlsplit(baseURL)
    assert parts.hostname is not None and parts.port is not None, baseURL
    return (parts.hostname, parts.port)
