"""
Pipes: post-processing of a response chosen by the URL (``?pipe=...``) or
by the file name (``.sub.``), as in wptserve.

A pipe string is a ``|``-separated list of calls, ``name(arg,arg)``; each
pipe takes the response and returns it changed:

``status(code)``
    the status code;
``header(name,value[,append])``
    set (or with a true third argument, add) a header;
``slice(start[,end])``
    keep ``content[start:end]`` (Python semantics, ``null`` for none);
``trickle(d1:100:d2:r2)``
    send the body in pieces with delays (``dN`` sleeps N seconds, a number
    sends that many bytes, a final ``rN`` repeats the previous N items
    until the body is sent);
``sub[(html|none)]``
    run the ``.sub.`` template substitution over the body;
``gzip``
    gzip-encode the body.

Everything here runs in the worker thread that writes the response: the
trickle delays are ``time.sleep`` calls inside the body iterator, so they
hold only that thread, never the reactor.  Any error — an unknown pipe, a
wrong number of arguments, an argument that does not convert — is an
exception, which the handler machinery turns into wptserve's 500.
"""

from __future__ import annotations

import gzip as gzipModule
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import (
    Any,
    ClassVar,
    TypeVar,
)
from urllib.parse import unquote

from twisted_pyhandlers._templates import template

T = TypeVar("T")
PipeFunction = Callable[..., Any]

#: Extensions whose ``.sub.`` substitutions are HTML-escaped.
MARKUP_EXTENSIONS = frozenset({".html", ".htm", ".xht", ".xhtml", ".xml", ".svg"})


class PipeError(ValueError):
    """A pipe string that names an unknown pipe or cannot be parsed."""


def resolve_content(response: Any) -> bytes:
    """The whole body of ``response``, read now (files and iterables too)."""
    return b"".join(item for item in response.iter_content(read_file=True))


class PipeTokenizer:
    """
    wptserve's tokenizer for pipe strings, state for state, so that every
    odd string (missing ``|``, stray ``)``, backslash escapes) splits as
    it does there.
    """

    def __init__(self) -> None:
        self.state: Callable[[], tuple[str, str] | None] | None = None
        self.string = ""
        self._index = 0

    def tokenize(self, string: str) -> Iterator[tuple[str, str] | None]:
        """Yield ``("function", name)`` and ``("argument", value)`` tokens."""
        self.string = string
        self.state = self.func_name_state
        self._index = 0
        while self.state is not None:
            yield self.state()
        yield None

    def get_char(self) -> str | None:
        if self._index >= len(self.string):
            return None
        char = self.string[self._index]
        self._index += 1
        return char

    def func_name_state(self) -> tuple[str, str] | None:
        name = ""
        while True:
            char = self.get_char()
            if char is None:
                self.state = None
                return ("function", name) if name else None
            if char == "(":
                self.state = self.argument_state
                return ("function", name)
            if char == "|":
                if name:
                    return ("function", name)
            else:
                name += char

    def argument_state(self) -> tuple[str, str]:
        value = ""
        while True:
            char = self.get_char()
            if char is None:
                self.state = None
                return ("argument", value)
            if char == "\\":
                escaped = self.get_escape()
                if escaped is None:
                    raise PipeError("Pipe string ends in the middle of an escape")
                value += escaped
            elif char == ",":
                return ("argument", value)
            elif char == ")":
                self.state = self.func_name_state
                return ("argument", value)
            else:
                value += char

    def get_escape(self) -> str | None:
        char = self.get_char()
        if char is None:
            return None
        return {"n": "\n", "r": "\r", "t": "\t"}.get(char, char)


class Pipeline:
    """
    A parsed pipe string, callable on ``(request, response)``.

    :cvar pipes: every known pipe by name; :class:`pipe` registers into it.
    """

    pipes: ClassVar[dict[str, PipeFunction]] = {}

    def __init__(self, pipe_string: str) -> None:
        self.pipe_functions = self.parse(pipe_string)

    def parse(self, pipe_string: str) -> list[tuple[PipeFunction, list[str]]]:
        """
        Split ``pipe_string`` into (pipe, arguments) pairs.

        :raises PipeError: for an unknown pipe name.
        """
        functions: list[tuple[PipeFunction, list[str]]] = []
        for item in PipeTokenizer().tokenize(pipe_string):
            if not item:
                break
            kind, value = item
            if kind == "function":
                if value not in self.pipes:
                    raise PipeError(f"Unknown pipe {value!r} in {pipe_string!r}")
                functions.append((self.pipes[value], []))
            else:
                functions[-1][1].append(value)
        return functions

    def __call__(self, request: Any, response: Any) -> Any:
        for func, args in self.pipe_functions:
            response = func(request, response, *args)
        return response


class opt:
    """Marks a pipe argument as optional (and converts it with ``f``)."""

    def __init__(self, f: Callable[[str], Any]) -> None:
        self.f = f

    def __call__(self, arg: str) -> Any:
        return self.f(arg)


class pipe:
    """
    Decorator that registers a pipe function under its name, with one
    converter per argument; optional arguments (:class:`opt`) come last.
    """

    def __init__(self, *arg_converters: Callable[[str], Any]) -> None:
        self.arg_converters = arg_converters
        self.max_args = len(arg_converters)
        self.min_args = 0
        optionalSeen = False
        for converter in arg_converters:
            if isinstance(converter, opt):
                optionalSeen = True
            elif optionalSeen:
                raise ValueError("Non-optional argument cannot follow optional argument")
            else:
                self.min_args += 1

    def __call__(self, f: PipeFunction) -> PipeFunction:
        converters = self.arg_converters
        minArgs, maxArgs = self.min_args, self.max_args

        def inner(request: Any, response: Any, *args: str) -> Any:
            if not (minArgs <= len(args) <= maxArgs):
                raise ValueError(f"Expected between {minArgs} and {maxArgs} args, got {len(args)}")
            values = tuple(convert(arg) for convert, arg in zip(converters, args, strict=False))
            return f(request, response, *values)

        inner.__name__ = f.__name__
        inner.__doc__ = f.__doc__
        Pipeline.pipes[f.__name__] = inner
        return f


def nullable(func: Callable[[str], T]) -> Callable[[str], T | None]:
    """An argument converter that also accepts ``null`` (any case) as None."""

    def inner(arg: str) -> T | None:
        if arg.lower() == "null":
            return None
        return func(arg)

    return inner


def boolean(arg: str) -> bool:
    """``true``/``1`` or ``false``/``0``, any case; anything else is an error."""
    if arg.lower() in ("true", "1"):
        return True
    if arg.lower() in ("false", "0"):
        return False
    raise ValueError(f"Not a boolean: {arg!r}")


@pipe(int)
def status(request: Any, response: Any, code: int) -> Any:
    """Set the status code."""
    response.status = code
    return response


@pipe(str, str, opt(boolean))
def header(request: Any, response: Any, name: str, value: str, append: bool = False) -> Any:
    """Set a header, or add one more value with ``append`` true."""
    if append:
        response.headers.append(name, value)
    else:
        response.headers.set(name, value)
    return response


TrickleStep = list[Any]  # [kind, value]


def parseTrickle(delays: str) -> list[TrickleStep]:
    """
    Parse a trickle specification into ``[kind, value]`` steps, merging
    neighbours of the same kind as wptserve does.

    Beyond wptserve, a specification that would never finish or would fail
    half-way through the body is refused here, before anything is sent:
    negative or non-finite delays, negative byte counts, and a final
    ``rN`` whose repeated steps send no bytes (wptserve loops forever).

    :raises ValueError: for any malformed item.
    """
    steps: list[TrickleStep] = []
    for item in delays.split(":"):
        value: Any
        if item.startswith("d"):
            kind = "delay"
            value = float(item[1:])
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Bad trickle delay {item!r}")
        elif item.startswith("r"):
            kind = "repeat"
            value = int(item[1:])
            if value % 2 != 0:
                raise ValueError(f"Trickle repeat count must be even: {item!r}")
        else:
            kind = "bytes"
            value = int(item)
            if value < 0:
                raise ValueError(f"Bad trickle byte count {item!r}")
        if steps and steps[-1][0] == kind:
            steps[-1][1] += value
        else:
            steps.append([kind, value])
    if steps and steps[-1][0] == "repeat":
        window = steps[-(steps[-1][1] + 1) : -1]
        if not any(kind == "bytes" and value > 0 for kind, value in window):
            raise ValueError(f"Trickle repeat sends no bytes: {delays!r}")
    return steps


def _trickled(content: bytes, steps: list[TrickleStep], sleep: Callable[[float], None]) -> Iterator[bytes]:
    """
    The body in trickle order.  Iterated in the worker thread that writes
    the response, so ``sleep`` blocks that thread only.
    """
    offset = 0

    def run(window: list[TrickleStep], repeat: bool) -> Iterator[bytes]:
        nonlocal offset
        for index, (kind, value) in enumerate(window):
            if kind == "bytes":
                yield content[offset : offset + value]
                offset += value
            elif kind == "delay":
                sleep(value)
            elif kind == "repeat":
                if index != len(window) - 1:
                    continue
                while offset < len(content):
                    yield from run(window[-(value + 1) : -1], True)
        if not repeat and offset < len(content):
            yield content[offset:]

    return run(steps, False)


@pipe(str)
def trickle(request: Any, response: Any, delays: str) -> Any:
    """
    Send the body in parts with delays in between; sets no-cache headers
    unless the response already has a caching header.
    """
    steps = parseTrickle(delays)
    if not steps:
        return response
    content = resolve_content(response)
    if not ("Cache-Control" in response.headers or "Pragma" in response.headers or "Expires" in response.headers):
        response.headers.set("Cache-Control", "no-cache, no-store, must-revalidate")
        response.headers.set("Pragma", "no-cache")
        response.headers.set("Expires", "0")
    response.content = _trickled(content, steps, time.sleep)
    return response


@pipe(nullable(int), opt(nullable(int)))
def slice(request: Any, response: Any, start: int | None, end: int | None = None) -> Any:
    """Keep ``content[start:end]`` and set Content-Length to its size."""
    content = resolve_content(response)[start:end]
    response.content = content
    response.headers.set("Content-Length", len(content))
    return response


@pipe(opt(nullable(str)))
def sub(request: Any, response: Any, escape_type: str | None = "html") -> Any:
    """Run the template substitution (see :mod:`twisted_pyhandlers._templates`)."""
    content = resolve_content(response)
    response.content = template(request, content, escape_type=escape_type)
    return response


@pipe()
def gzip(request: Any, response: Any) -> Any:
    """gzip the body; sets Content-Encoding and Content-Length."""
    content = resolve_content(response)
    response.headers.set("Content-Encoding", "gzip")
    out = BytesIO()
    with gzipModule.GzipFile(fileobj=out, mode="w") as f:
        f.write(content)
    response.content = out.getvalue()
    response.headers.set("Content-Length", len(response.content))
    return response


def parse_qs(qs: str) -> dict[str, list[str]]:
    """
    wptserve's query parser: ``&``-separated only (``;`` is an ordinary
    character), ``+`` is a space, and names with a blank value are dropped.
    """
    values: dict[str, list[str]] = defaultdict(list)
    for item in qs.split("&"):
        if not item:
            continue
        pair = item.split("=", 1)
        if len(pair) == 1 or len(pair[1]) == 0:
            continue
        values[unquote(pair[0].replace("+", " "))].append(unquote(pair[1].replace("+", " ")))
    return dict(values)


def queryPipe(query: str) -> str | None:
    """
    The pipe string named in a query (its last ``pipe`` value, parsed as
    wptserve's :func:`parse_qs` does), or None.

    Runs for every response, static or handler: a query can only name
    ``pipe`` literally or through a percent-escape, so one without either
    is not parsed at all.
    """
    if "pipe" not in query and "%" not in query:
        return None
    values = parse_qs(query).get("pipe")
    return values[-1] if values else None


def pipeString(path: str, query: str, docRoot: str | None = None) -> str:
    """
    The pipe string for a response: ``sub(html)`` or ``sub(none)`` first
    when ``.sub.`` is in ``path``, then the last ``pipe`` value of the
    query.

    ``path`` is the file being served (absolute or relative to the root);
    when it is absolute and under ``docRoot``, only the part below the root
    is searched for ``.sub.``, so a document root that happens to live in
    a ``x.sub.y`` directory does not template every file.
    """
    return withQueryPipe(filePipes(path, docRoot), query)


def filePipes(path: str, docRoot: str | None = None) -> str:
    """
    The part of :func:`pipeString` that the file's name decides
    (``sub(html)``, ``sub(none)`` or ""): the same for every request of
    that file, so a handler file's resource works it out once.
    """
    below = path
    if docRoot and os.path.isabs(path):
        root = docRoot.rstrip(os.sep) + os.sep
        if path.startswith(root):
            below = path[len(root) :]
    if ".sub." not in below:
        return ""
    escapeType = "html" if os.path.splitext(below)[1] in MARKUP_EXTENSIONS else "none"
    return f"sub({escapeType})"


def withQueryPipe(pipes: str, query: str) -> str:
    """``pipes`` (see :func:`filePipes`), then the query's ``pipe`` value, if any."""
    piped = queryPipe(query)
    if piped is None:
        return pipes
    return f"{pipes}|{piped}" if pipes else piped


def wrapPipeline(path: str, request: Any, response: Any) -> Any:
    """
    Apply the ``.sub.`` and ``?pipe=`` pipes to ``response``: wptserve's
    ``wrap_pipeline``, for handlers that call it.  The server itself decides
    a response's pipes once, on the reactor (:func:`pipeString`), and runs
    them after ``main`` returns.

    :raises Exception: whatever a pipe raises; the caller turns it into a 500.
    """
    query = request.request_path.partition("?")[2]
    pipes = pipeString(path, query, request.doc_root)
    if pipes:
        response = Pipeline(pipes)(request, response)
    return response


# wptserve's name, for handlers and the wptserve compatibility package.
wrap_pipeline = wrapPipeline
