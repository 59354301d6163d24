"""
Header limits and odd requests, on wptserve 4.0.3 and on this server over
raw sockets: where the two should agree they do (the status of each answer
is compared), and the differences (a header block over ~32 MiB, a request body over
``--max-body``, a head not complete in time: wptserve has no such limits)
are listed in ``docs/differences/core.rst``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

HANDLER = "def main(request, response):\n    return str(len(request.headers))\n"


def statusOf(base: str, data: bytes) -> int:
    """Send ``data`` to the server at ``base``; the status code answered, or 0 for a bare close."""
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass
        answer = b""
        try:
            while b"\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except ConnectionResetError:
            pass
    if not answer.startswith(b"HTTP/1."):
        return 0
    return int(answer.split(b" ", 2)[1])


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
    wptserve_server: Callable[..., str],
    our_server: Callable[..., str],
) -> tuple[str, str]:
    """wptserve and ours, serving one root with ``n.py`` (counts the headers)."""
    root: Path = tmp_path_factory.mktemp("limits")
    (root / "n.py").write_text(HANDLER)
    return wptserve_server(root), our_server(root)


def request(headers: bytes, target: bytes = b"/n.py") -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n" % (target, headers)


SAME = {
    "40 x 1 KiB headers": request(b"".join(b"X-H%d: %s\r\n" % (n, b"b" * 1024) for n in range(40))),
    "one 60 KiB header line": request(b"X-Long: %s\r\n" % (b"a" * 60 * 1024)),
    "one 70 KiB header line": request(b"X-Long: %s\r\n" % (b"a" * 70 * 1024)),
    "a 70 KiB request line": request(b"", b"/" + b"a" * 70 * 1024),
    "150 headers": request(b"".join(b"X-H%d: 1\r\n" % n for n in range(148))),
    "511 headers": request(b"".join(b"X-H%d: 1\r\n" % n for n in range(509))),
    "513 headers": request(b"".join(b"X-H%d: 1\r\n" % n for n in range(511))),
    "600 headers": request(b"".join(b"X-H%d: 1\r\n" % n for n in range(598))),
}


@pytest.mark.parametrize("name", sorted(SAME))
def test_sameStatus(servers: tuple[str, str], name: str) -> None:
    """Both servers answer these header blocks with the same status line."""
    theirs, ours = servers
    assert statusOf(ours, SAME[name]) == statusOf(theirs, SAME[name])
