"""
The Content-Type a static file is served with.

Test suites depend on exact types: a module script must come back as
``text/javascript``, an XHTML test as ``application/xhtml+xml``, a ``.gz``
fixture as opaque bytes (not as a gzip-encoded something else).  So the
lookup is layered:

1. wptserve's own table, exactly (:data:`WPTSERVE_TYPES`), so that every
   extension wptserve knows gets the type wptserve gives it;
2. web types test suites use that wptserve leaves out (:data:`WEB_TYPES`:
   fonts, ``.webmanifest``, ``.webp`` ...);
3. Python's built-in :mod:`mimetypes` table — the built-in one only, never
   the host's ``/etc/mime.types``, so that the answer does not depend on the
   machine the server runs on;
4. ``application/octet-stream``.

Only the last extension counts (``a.sub.html`` is HTML, ``a.html.gz`` is
opaque), as in wptserve.  No Content-Encoding is ever guessed: a ``.gz`` file
is served as the bytes it holds.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping

DEFAULT_TYPE = "application/octet-stream"

#: wptserve 4.0.3's ``constants.content_types``, extension (no dot) to type.
WPTSERVE_TYPES: Mapping[str, str] = {
    "json": "application/json",
    "wasm": "application/wasm",
    "xht": "application/xhtml+xml",
    "xhtm": "application/xhtml+xml",
    "xhtml": "application/xhtml+xml",
    "xml": "application/xml",
    "xpi": "application/x-xpinstall",
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "oga": "audio/ogg",
    "weba": "audio/webm",
    "wav": "audio/x-wav",
    "avif": "image/avif",
    "bmp": "image/bmp",
    "gif": "image/gif",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "svg": "image/svg+xml",
    "manifest": "text/cache-manifest",
    "css": "text/css",
    "event_stream": "text/event-stream",
    "htm": "text/html",
    "html": "text/html",
    "js": "text/javascript",
    "mjs": "text/javascript",
    "txt": "text/plain",
    "md": "text/plain",
    "vtt": "text/vtt",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
}

#: Web types that wptserve's table leaves out (it answers
#: ``application/octet-stream`` for them), in their registered forms.
WEB_TYPES: Mapping[str, str] = {
    "webmanifest": "application/manifest+json",
    "woff": "font/woff",
    "woff2": "font/woff2",
    "ttf": "font/ttf",
    "otf": "font/otf",
    "webp": "image/webp",
    "apng": "image/apng",
    "jxl": "image/jxl",
    "ico": "image/x-icon",
    "ogg": "application/ogg",
    "ogv": "video/ogg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "xsl": "application/xslt+xml",
    "xslt": "application/xslt+xml",
    "cjs": "text/javascript",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "ics": "text/calendar",
    "appcache": "text/cache-manifest",
    "jsonld": "application/ld+json",
    "map": "application/json",
}


def _builtinTypes() -> dict[str, str]:
    """
    Python's built-in extension table (strict types win over common ones),
    read without consulting any system file.
    """
    table = mimetypes.MimeTypes(filenames=())
    merged: dict[str, str] = {}
    for strict in (False, True):
        for ext, mimeType in table.types_map[strict].items():
            merged[ext.lstrip(".").lower()] = mimeType
    return merged


_BUILTIN_TYPES: Mapping[str, str] = _builtinTypes()


def extensionOf(name: str) -> str:
    """
    The last extension of the file name ``name``, without the dot, as
    ``os.path.splitext`` finds it (so ``.htaccess`` has none).
    """
    base = name.rsplit("/", 1)[-1]
    stripped = base.lstrip(".")
    if "." not in stripped:
        return ""
    return stripped.rsplit(".", 1)[1]


def guessContentType(name: str) -> str:
    """
    The Content-Type for a file called ``name``; safe to call from any
    thread (it only reads immutable tables).
    """
    ext = extensionOf(name)
    if not ext:
        return DEFAULT_TYPE
    if ext in WPTSERVE_TYPES:
        return WPTSERVE_TYPES[ext]
    lower = ext.lower()
    for table in (WPTSERVE_TYPES, WEB_TYPES, _BUILTIN_TYPES):
        if lower in table:
            return table[lower]
    return DEFAULT_TYPE
