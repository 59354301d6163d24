"""
The bench's document root: the handler files and the static file that every
server is measured on.

The same bytes are served by every server: the static resource gets them
from :data:`TINY_BODY` and :data:`STATIC_BODY`, the handler servers from the
files :func:`writeDocRoot` creates.
"""

from __future__ import annotations

from pathlib import Path

#: What the tiny handler answers (and the plain twisted.web ``Data`` too).
TINY_BODY = b"hello, world\n"

#: The sleeping handler's sleep, in seconds.
SLEEP_SECONDS = 0.1

#: The 1 MiB body handler's body size.
MIB_BODY_SIZE = 1 << 20

#: The generator handler's piece size and count: 16384 pieces of 64 KiB = 1 GiB.
GIB_PIECE_SIZE = 64 * 1024
GIB_PIECES = 16384

#: The static file's content: a 16 KiB text file.
STATIC_BODY = (b"0123456789abcdef" * 64 + b"\n") * 16

#: The query+header scenario's request: its query and header carry the two
#: halves of :data:`TINY_BODY`, so every server answers the same bytes.
QUERY_STRING = "greeting=hello"
NAME_HEADER = "X-Name: world"

#: File name -> source.  The tiny handler is three lines, as the issue says.
HANDLERS: dict[str, str] = {
    "tiny.py": (
        "def main(request, response):\n"
        '    response.headers.set(b"Content-Type", b"text/plain")\n'
        f"    return {TINY_BODY!r}\n"
    ),
    "query.py": (
        "def main(request, response):\n"
        '    greeting = request.GET.first(b"greeting", b"")\n'
        '    name = request.headers.get(b"x-name", b"")\n'
        '    response.headers.set(b"Content-Type", b"text/plain")\n'
        '    return b"%s, %s\\n" % (greeting, name)\n'
    ),
    "sleep.py": (
        "import time\n"
        "\n"
        "def main(request, response):\n"
        f"    time.sleep({SLEEP_SECONDS!r})\n"
        '    response.headers.set(b"Content-Type", b"text/plain")\n'
        '    return b"slept\\n"\n'
    ),
    # The handler the rapid-reset scenario's flood asks for (bench/rapidreset.py).
    "sleep1.py": (
        "import time\n"
        "\n"
        "def main(request, response):\n"
        "    time.sleep(1)\n"
        '    return b"slept\\n"\n'
    ),
    "mib.py": (
        f'BODY = b"x" * {MIB_BODY_SIZE}\n'
        "\n"
        "def main(request, response):\n"
        '    response.headers.set(b"Content-Type", b"application/octet-stream")\n'
        "    return BODY\n"
    ),
    "gib.py": (
        f'PIECE = b"x" * {GIB_PIECE_SIZE}\n'
        f"PIECES = {GIB_PIECES}\n"
        "\n"
        "def main(request, response):\n"
        '    response.headers.set(b"Content-Type", b"application/octet-stream")\n'
        '    response.headers.set(b"Content-Length", str(PIECES * len(PIECE)))\n'
        "\n"
        "    def body():\n"
        "        for _ in range(PIECES):\n"
        "            yield PIECE\n"
        "\n"
        "    return body()\n"
    ),
}

#: The static file's name under the root.
STATIC_NAME = "static.txt"


def writeDocRoot(root: Path) -> Path:
    """
    Write the bench handlers and the static file into ``root`` (created if
    missing) and return it.

    Runs in the bench's main thread, before any server starts.
    """
    root.mkdir(parents=True, exist_ok=True)
    for name, source in HANDLERS.items():
        (root / name).write_text(source)
    (root / STATIC_NAME).write_bytes(STATIC_BODY)
    return root
