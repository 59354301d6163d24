"""
``--inject-script FILE``: a script put into every ``text/html`` response,
as today's ``wpt serve --inject-script`` puts it (``tools/serve/serve.py``,
its ``inject_script`` and ``HtmlScriptInjectorHandlerWrapper``).

Which responses: those whose first ``Content-Type`` is exactly
``text/html`` (``text/html; charset=utf-8`` is left alone, as there) and
whose body is known in full when the handler is done: text, bytes, a file
(a static file, or a file object a handler returned).  Bodies made as they
are sent (generators, trickles, a handler writing through
``response.writer``) are left alone, as wpt serve leaves its "custom
streaming responses".

Where: the page is read by html5lib's tokenizer (the one wpt serve uses),
and the script goes before the first token that is not the doctype, a
comment, white space, or an ``<html>`` or ``<head>`` start tag; a page the
tokenizer reports an error in before that point, or one whose insertion
point is past html5lib's first chunk of text, is left unchanged.  The
offset the tokenizer gives counts characters and is applied to the bytes,
as wpt serve applies it.  What goes in is ``<script>``, the file's bytes,
and a line that removes the script element again.

:class:`ScriptInjection` is the filter; the response is given to it once,
after the handler and its pipes, before anything is written
(``HandlerRun._complete`` in :mod:`twisted_pyhandlers._run`).
"""

from __future__ import annotations

from io import IOBase
from typing import Any, Optional

from html5lib._tokenizer import HTMLTokenizer  # html5lib 1.1: the tokenizer wpt serve uses
from html5lib.constants import tokenTypes

from twisted_pyhandlers._filebody import FileBody

#: Start tags the script goes after.
_SKIPPED_START_TAGS = frozenset({"html", "head"})
#: Tokens the script goes before.
_CONTENT_TOKENS = frozenset({tokenTypes["EndTag"], tokenTypes["EmptyTag"], tokenTypes["Characters"]})


def scriptElement(script: bytes) -> bytes:
    """The bytes put into a page for the file's ``script``."""
    return (
        b"<script>\n" + script + b"\n"
        b"// Remove the injected script tag from the DOM.\n"
        b"document.currentScript.remove();\n"
        b"</script>\n"
    )


def insertionPoint(html: bytes) -> Optional[int]:
    """
    Where the script goes in ``html``, as an index into its bytes, or None
    when it is not put in (see the module docstring).
    """
    tokenizer = HTMLTokenizer(html)
    stream = tokenizer.stream
    offset = 0
    for token in tokenizer:
        kind = token["type"]
        if kind == tokenTypes["StartTag"]:
            if token["name"].lower() not in _SKIPPED_START_TAGS:
                break
        elif kind in _CONTENT_TOKENS:
            break
        elif kind == tokenTypes["ParseError"]:
            return None
        offset = stream.chunkOffset
    else:
        # The page ended before any content.
        return None
    if stream.prevNumLines or stream.prevNumCols:
        # Past the first chunk, whose offsets these are.
        return None
    return offset


def injected(html: bytes, element: bytes) -> bytes:
    """``html`` with ``element`` at its insertion point, or unchanged."""
    point = insertionPoint(html)
    if point is None:
        return html
    return html[:point] + element + html[point:]


class ScriptInjection:
    """
    The response filter of ``--inject-script``: the file's bytes, put into
    every ``text/html`` response known in full.

    :param script: the script's source, as read from the file.
    """

    def __init__(self, script: bytes) -> None:
        self.script = script
        self.element = scriptElement(script)

    @staticmethod
    def appliesToType(contentType: Optional[bytes]) -> bool:
        """Whether a response of this first ``Content-Type`` value gets the script."""
        return contentType == b"text/html"

    def filterResponse(self, response: Any) -> None:
        """
        Put the script into ``response`` (the handler-facing response, not
        yet written) when it applies: its body becomes bytes, with an
        explicit ``Content-Length`` kept true.  Worker thread (the reactor
        for answers made there).
        """
        types = response.headers.get("Content-Type")
        if not types or not self.appliesToType(types[0]) or response.status[0] == 206:
            return
        content = response.content
        if isinstance(content, str):
            data = content.encode(response.encoding)
        elif isinstance(content, bytes):
            data = content
        elif isinstance(content, FileBody):
            data = content.read()
            content.close()
        elif isinstance(content, IOBase):
            read = content.read()
            content.close()
            data = read.encode(response.encoding) if isinstance(read, str) else bytes(read)
        else:
            return
        body = injected(data, self.element)
        response.content = body
        if body is not data and "Content-Length" in response.headers:
            response.headers.set("Content-Length", str(len(body)))
