"""
``.sub.`` templates (docs/static.rst): every substitution, variables, HTML
escaping for markup files, and a clear 500 for what cannot be substituted —
served end to end from a root with a multi-host config.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
import pytest_twisted
import treq
from serving import HandlerRoot, Serve
from twisted.internet import reactor

from twisted_pyhandlers import HandlerDirectory
from twisted_pyhandlers._templates import TemplateError, tokenize
from twisted_pyhandlers.config import ServerConfig


def _config(root: HandlerRoot) -> ServerConfig:
    return ServerConfig(
        "web-platform.test",
        ports={"http": [8000, 8001]},
        subdomains=["www", "élève"],
        alternateHosts={"alt": "not-web-platform.test"},
        docRoot=str(root.path),
    )


def _serve(serve: Serve, root: HandlerRoot) -> str:
    return serve(
        HandlerDirectory(str(root.path), reactor=reactor, config=_config(root))
    )


async def _body(base: str, target: str, **kwargs: object) -> bytes:
    response = await treq.get(base + target, **kwargs)
    assert response.code == 200, await response.content()
    body: bytes = await response.content()
    return body


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize(
    "expression, expected",
    [
        ("host", b"web-platform.test"),
        ("domains[www]", b"www.web-platform.test"),
        ("domains[élève]", b"xn--lve-6lad.web-platform.test"),
        ("domains[]", b"web-platform.test"),
        ("hosts[alt][www]", b"www.not-web-platform.test"),
        ("hosts[][www]", b"www.web-platform.test"),
        ("ports[http][0]", b"8000"),
        ("ports[http][1]", b"8001"),
        ("browser_host", b"web-platform.test"),
        ("location[path]", b"/d/t.sub.txt"),
        ("location[pathname]", b"/d/t.sub.txt"),
        ("location[query]", b"?q=1&r=%3Cx%3E"),
        ("location[scheme]", b"http"),
        ("location[hostname]", b"127.0.0.1"),
        ("headers[X-Test]", b"<v>"),
        ("header_or_default(X-Test, d)", b"<v>"),
        ("header_or_default(X-Missing, dflt)", b"dflt"),
        ("GET[q]", b"1"),
        ("GET[r]", b"<x>"),
        ("GET[missing]", b""),
        ("url_base", b"/"),
        ("$v:GET[q]", b"1"),
    ],
)
async def test_substitutions(
    serve: Serve, handlerRoot: HandlerRoot, expression: str, expected: bytes
) -> None:
    """
    Each name of the template language gives what wptserve gives, from the
    config, the request URL, headers and query.
    """
    handlerRoot.write("d/t.sub.txt", "[{{" + expression + "}}]")
    base = _serve(serve, handlerRoot)
    body = await _body(base, "/d/t.sub.txt?q=1&r=%3Cx%3E", headers={"X-Test": "<v>"})
    assert body == b"[" + expected + b"]"


@pytest_twisted.ensureDeferred
async def test_locationServerAndPort(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """``location[server]``, ``[host]`` and ``[port]`` name the real port."""
    handlerRoot.write(
        "t.sub.txt", "{{location[server]}} {{location[host]}} {{location[port]}}"
    )
    base = _serve(serve, handlerRoot)
    port = base.rsplit(":", 1)[1]
    body = await _body(base, "/t.sub.txt")
    assert body == f"http://127.0.0.1:{port} 127.0.0.1:{port} {port}".encode()


@pytest_twisted.ensureDeferred
async def test_variablesAndUuid(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    ``{{$id:uuid()}}`` substitutes a fresh UUID and ``{{$id}}`` repeats it;
    each request gets a new one.
    """
    handlerRoot.write("t.sub.txt", "{{$id:uuid()}} {{$id}} {{uuid()}}")
    base = _serve(serve, handlerRoot)
    first = (await _body(base, "/t.sub.txt")).split()
    second = (await _body(base, "/t.sub.txt")).split()
    uuidPattern = re.compile(
        rb"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )
    assert all(uuidPattern.match(part) for part in first + second)
    assert first[0] == first[1] != first[2]
    assert first[0] != second[0]


@pytest_twisted.ensureDeferred
async def test_fileHashAndFsPath(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """
    ``file_hash`` gives the base64 digest of a file under the root;
    ``fs_path`` the absolute path, relative to the requested file's
    directory or, with a leading slash, to the root (also at the top of
    the root, where wptserve gets it wrong).
    """
    handlerRoot.write("d/data.txt", "hash me\n")
    handlerRoot.write(
        "d/t.sub.txt",
        "{{file_hash(sha384, d/data.txt)}}|{{fs_path(data.txt)}}|{{fs_path(/d/data.txt)}}",
    )
    handlerRoot.write("top.sub.txt", "{{fs_path(x.txt)}}")
    base = _serve(serve, handlerRoot)
    digest = base64.b64encode(hashlib.sha384(b"hash me\n").digest())
    realRoot = str(handlerRoot.path.resolve())
    body = await _body(base, "/d/t.sub.txt")
    expectedPath = f"{realRoot}/d/data.txt".encode()
    assert body == digest + b"|" + expectedPath + b"|" + expectedPath
    assert await _body(base, "/top.sub.txt") == f"{realRoot}/x.txt".encode()


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize(
    "name, escaped",
    [
        ("t.sub.html", True),
        ("t.sub.htm", True),
        ("t.sub.xhtml", True),
        ("t.sub.xht", True),
        ("t.sub.xml", True),
        ("t.sub.svg", True),
        ("t.sub.js", False),
        ("t.sub.txt", False),
        ("t.sub.css", False),
    ],
)
async def test_escaping(
    serve: Serve, handlerRoot: HandlerRoot, name: str, escaped: bool
) -> None:
    """Markup files get HTML escaping (quotes too); other files none."""
    handlerRoot.write(name, "{{GET[v]}}")
    base = _serve(serve, handlerRoot)
    body = await _body(base, "/" + name + "?v=%3Ca%20href%3D%22x%22%3E%26%27")
    expected = (
        b"&lt;a href=&quot;x&quot;&gt;&amp;&#x27;" if escaped else b'<a href="x">&\''
    )
    assert body == expected


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize(
    "template, needle",
    [
        ("{{nosuchname}}", "Undefined template variable nosuchname"),
        ("{{headers[X-Not-Sent]}}", "X-Not-Sent"),
        ("{{domains[nope]}}", "nope"),
        ("{{location}}", "not a string"),
        ("{{host garbage}}", "Cannot parse"),
        ("{{ host}}", "Cannot parse"),
        ("{{}}", "Empty template expression"),
        ("{{file_hash(whirlpool, a.txt)}}", "Unsupported encryption algorithm"),
        ("{{file_hash(md5, ../outside.txt)}}", "outside the document root"),
        ("{{file_hash(md5, missing.txt)}}", "Cannot open file"),
        ("{{fs_path(../../x)}}", "outside"),
        ("{{uuid(1, 2)}}", "Bad arguments"),
        ("{{host()}}", "Not a function"),
        ("{{$v:}}", "Nothing to assign"),
    ],
)
async def test_badExpression500(
    serve: Serve, handlerRoot: HandlerRoot, template: str, needle: str
) -> None:
    """
    An unknown name, a missing key, a value that is not a string, an
    expression with an unparseable tail, a bad hash algorithm or a path
    leaving the root: a 500 whose message says what is wrong.
    """
    (handlerRoot.path.parent / "outside.txt").write_text("secret")
    handlerRoot.write("t.sub.txt", template)
    base = _serve(serve, handlerRoot)
    response = await treq.get(base + "/t.sub.txt")
    assert response.code == 500
    message = json.loads(await response.content())["error"]["message"]
    assert needle in message


@pytest_twisted.ensureDeferred
async def test_mountedUrlBase(serve: Serve, handlerRoot: HandlerRoot) -> None:
    """Under ``putChild(b"wpt", ...)``, ``{{url_base}}`` is ``/wpt/``."""
    from twisted.web.resource import Resource

    handlerRoot.write("d/t.sub.txt", "{{url_base}} {{location[path]}} {{fs_path(x)}}")
    site = Resource()
    site.putChild(
        b"wpt",
        HandlerDirectory(
            str(handlerRoot.path), reactor=reactor, config=_config(handlerRoot)
        ),
    )
    base = serve(site)
    body = await _body(base, "/wpt/d/t.sub.txt")
    realRoot = str(handlerRoot.path.resolve())
    assert body == f"/wpt/ /wpt/d/t.sub.txt {realRoot}/d/x".encode()


def test_tokenize() -> None:
    """Expressions split into wptserve's four token kinds."""
    assert tokenize("$id:hosts[alt][0]") == [
        ("var", "$id"),
        ("ident", "hosts"),
        ("index", "alt"),
        ("index", 0),
    ]
    assert tokenize("file_hash(md5, a/b.txt)") == [
        ("ident", "file_hash"),
        ("arguments", ["md5", "a/b.txt"]),
    ]
    with pytest.raises(TemplateError):
        tokenize("host!")
