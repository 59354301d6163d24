"""
The ``.sub.`` template language: ``{{...}}`` substitutions of facts about
the server and the request into a response body (or a ``.sub.headers``
file).

The language is wptserve's, name for name:

- ``{{host}}``, ``{{domains[www]}}``, ``{{hosts[alt][www]}}``,
  ``{{ports[http][0]}}``, ``{{url_base}}`` and any other top-level config key;
- ``{{location[server|scheme|host|hostname|port|path|pathname|query]}}``;
- ``{{headers[Name]}}`` (the request header; missing is an error) and
  ``{{GET[name]}}`` (the first query value; missing is the empty string);
- the functions ``uuid()``, ``file_hash(alg, path)``, ``fs_path(path)``,
  ``header_or_default(name, default)``;
- ``{{$name:expression}}`` substitutes the expression and remembers it,
  ``{{$name}}`` substitutes it again later in the same file.

Values are HTML-escaped for markup files (``escape_type="html"``) and left
alone otherwise (``"none"``).  Where wptserve silently ignores the
unparseable tail of an expression or reads files outside the document root,
we raise :class:`TemplateError`, which the handler machinery turns into a
500 with the expression named in the message.

Everything here runs in the worker thread that serves the response.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from html import escape
from typing import Any
from urllib.parse import unquote

from twisted.python.filepath import FilePath, InsecurePath

from twisted_pyhandlers._encoding import isomorphic_encode

Token = tuple[str, Any]
Scalar = int | bytes | str


class TemplateError(Exception):
    """
    A ``{{...}}`` expression that cannot be substituted: an unknown name, a
    missing key, a malformed expression, an unsupported hash algorithm or a
    path outside the document root.  Its message names the expression.
    """


def _arguments(scanner: Any, token: str) -> Token:
    unwrapped = token[1:-1]
    return ("arguments", re.split(r",\s*", unwrapped) if unwrapped else [])


def _ident(scanner: Any, token: str) -> Token:
    return ("ident", token)


def _index(scanner: Any, token: str) -> Token:
    inner = token[1:-1]
    try:
        return ("index", int(inner))
    except ValueError:
        return ("index", inner)


def _var(scanner: Any, token: str) -> Token:
    return ("var", token[:-1])


# The same four token kinds, in the same order, as wptserve's
# ReplacementTokenizer; we scan text (decoded as UTF-8) instead of bytes.
_SCANNER = re.Scanner(  # type: ignore[attr-defined]
    [
        (r"\$\w+:", _var),
        (r"\$?\w+", _ident),
        (r"\[[^\]]*\]", _index),
        (r"\([^)]*\)", _arguments),
    ]
)

_TEMPLATE = re.compile(rb"{{([^}]*)}}")

_ESCAPES: Mapping[str, Callable[[str], str]] = {
    "html": lambda text: escape(text, quote=True),
    "none": lambda text: text,
}

#: The hash algorithms ``file_hash`` accepts: those hashlib has on every
#: platform, as in wptserve.
SUPPORTED_ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")


def tokenize(expression: str) -> list[Token]:
    """
    Split the inside of one ``{{...}}`` into tokens.

    :raises TemplateError: if part of it is not a token (wptserve drops such
        a tail without a word).
    """
    tokens, remainder = _SCANNER.scan(expression)
    if remainder:
        raise TemplateError(f"Cannot parse template expression {{{{{expression}}}}} at {remainder!r}")
    if not tokens:
        raise TemplateError(f"Empty template expression {{{{{expression}}}}}")
    return list(tokens)


def _docRoot(request: Any) -> FilePath[str]:
    return FilePath(request.doc_root)


def _insideRoot(request: Any, relative: str) -> FilePath[str]:
    """
    The file ``relative`` (slash-separated, from the document root) under
    the root, refusing any path that would leave it.
    """
    root = _docRoot(request)
    try:
        target = root.preauthChild(relative.lstrip("/")) if relative.strip("/") else root
    except InsecurePath:
        raise TemplateError(f"Path outside the document root: {relative!r}")
    realRoot = root.realpath()
    real = target.realpath()
    if real != realRoot and not real.path.startswith(realRoot.path + "/"):
        raise TemplateError(f"Path outside the document root: {relative!r}")
    return target


def _uuid(request: Any) -> str:
    return str(uuid.uuid4())


def _fileHash(request: Any, algorithm: str, path: str) -> bytes:
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise TemplateError(f"Unsupported encryption algorithm: '{algorithm}'")
    target = _insideRoot(request, path)
    digest = hashlib.new(algorithm)
    try:
        with target.open("r") as f:
            for chunk in iter(lambda: f.read(64 * 1024), b""):
                digest.update(chunk)
    except OSError:
        raise TemplateError(f'Cannot open file for hash computation: "{target.path}"')
    return base64.b64encode(digest.digest()).strip()


def _fsPath(request: Any, path: str) -> str:
    if path.startswith("/"):
        relative = path[1:]
    else:
        urlPath = request.url_parts.path
        subdir = urlPath.removeprefix(request.url_base)
        # The directory of the requested file.  (wptserve keeps the file
        # name itself as a "directory" for a file at the top of the root.)
        subdir = unquote(subdir.rsplit("/", 1)[0]) if "/" in subdir else ""
        relative = subdir + "/" + path
    root = _docRoot(request)
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    resolved: list[str] = []
    for part in parts:
        if part == "..":
            if not resolved:
                raise TemplateError("Path outside wpt root")
            resolved.pop()
        else:
            resolved.append(part)
    target = root
    for part in resolved:
        target = target.child(part)
    return target.path


def _headerOrDefault(request: Any, name: str, default: str) -> Any:
    return request.headers.get(name, default)


_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "uuid": _uuid,
    "file_hash": _fileHash,
    "fs_path": _fsPath,
    "header_or_default": _headerOrDefault,
}


class _FirstWrapper:
    """``GET[name]``: the first value of ``name`` in the query, or ""."""

    def __init__(self, params: Any) -> None:
        self._params = params

    def __getitem__(self, key: str | bytes | int) -> Any:
        if isinstance(key, int):
            key = str(key)
        try:
            return self._params.first(isomorphic_encode(key))
        except KeyError:
            return ""


def _location(request: Any) -> dict[str, Any]:
    parts = request.url_parts
    return {
        "server": f"{parts.scheme}://{parts.hostname}:{parts.port}",
        "scheme": parts.scheme,
        "host": f"{parts.hostname}:{parts.port}",
        "hostname": parts.hostname,
        "port": parts.port,
        "path": parts.path,
        "pathname": parts.path,
        "query": f"?{parts.query}",
    }


def _lookup(request: Any, name: str, variables: Mapping[str, Scalar], expression: str) -> Any:
    """The value of the first name of an expression, in wptserve's order."""
    config = request.server.config
    if name in variables:
        return variables[name]
    if name in _FUNCTIONS:
        return _FUNCTIONS[name]
    if name == "headers":
        return request.headers
    if name == "GET":
        return _FirstWrapper(request.GET)
    if name == "hosts":
        return config.all_domains
    if name == "domains":
        return config.all_domains[""]
    if name == "host":
        return config["browser_host"]
    if name in config:
        return config[name]
    if name == "location":
        return _location(request)
    if name == "url_base":
        return request.url_base
    raise TemplateError(f"Undefined template variable {name} in {{{{{expression}}}}}")


def _evaluate(request: Any, expression: str, variables: dict[str, Scalar]) -> Scalar:
    """
    The value of one ``{{expression}}``, recording ``$name:`` assignments
    in ``variables``.
    """
    tokens: deque[Token] = deque(tokenize(expression))
    kind, field = tokens.popleft()
    variable = None
    if kind == "var":
        variable = field
        if not tokens:
            raise TemplateError(f"Nothing to assign in {{{{{expression}}}}}")
        kind, field = tokens.popleft()
    if kind != "ident":
        raise TemplateError(f"unexpected token type {kind} (token {field!r}), expected ident, in {{{{{expression}}}}}")
    value = _lookup(request, field, variables, expression)
    while tokens:
        kind, field = tokens.popleft()
        if kind == "index":
            try:
                value = value[field]
            except (KeyError, IndexError, TypeError) as error:
                raise TemplateError(f"No value for [{field}] in {{{{{expression}}}}}: {error!r}") from error
        elif kind == "arguments":
            if not callable(value):
                raise TemplateError(f"Not a function in {{{{{expression}}}}}")
            try:
                value = value(request, *field)
            except TypeError as error:
                raise TemplateError(f"Bad arguments in {{{{{expression}}}}}: {error}") from error
        else:
            raise TemplateError(
                f"unexpected token type {kind} (token {field!r}), expected index or arguments, in {{{{{expression}}}}}"
            )
    if isinstance(value, bool) or not isinstance(value, (int, bytes, str)):
        raise TemplateError(f"{{{{{expression}}}}} is not a string or a number but {type(value).__name__}")
    if variable is not None:
        variables[variable] = value
    return value


def template(request: Any, content: bytes, escape_type: str | None = "html") -> bytes:
    """
    Substitute every ``{{...}}`` in ``content``.

    :param request: the handler-facing request (its ``server.config``,
        ``headers``, ``GET``, ``url_parts``, ``url_base``, ``doc_root``).
    :param escape_type: ``"html"`` or ``"none"``; anything else is an error
        once a substitution is made, as in wptserve.
    :raises TemplateError: for an expression that cannot be substituted.
    """
    variables: dict[str, Scalar] = {}

    def replace(match: re.Match[bytes]) -> bytes:
        raw = match.group(1)
        try:
            expression = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TemplateError(f"Template expression is not UTF-8: {raw!r}")
        value = _evaluate(request, expression, variables)
        escapeFunction = _ESCAPES.get(escape_type) if escape_type is not None else None
        if escapeFunction is None:
            raise TemplateError(f"Unknown escape type {escape_type!r}")
        if isinstance(value, bytes):
            text = value.decode("utf-8")
        elif isinstance(value, int):
            text = str(value)
        else:
            text = value
        return escapeFunction(text).encode("utf-8")

    return _TEMPLATE.sub(replace, content)
