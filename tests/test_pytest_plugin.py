"""
The pytest plugin, used the way a user uses it: each test here writes a
user's test file and runs it with pytest in a subprocess (``pytester``), so
the plugin is found through its ``pytest11`` entry point, the servers are
real child processes on real loopback ports, and what the user sees (pass,
fail, the error text) is what is checked.
"""

from __future__ import annotations

import shutil
import socket
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SAMPLES = Path(__file__).resolve().parent.parent / "docs" / "samples" / "testing"


def runUserTests(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    """Write ``source`` as the user's test file and run pytest on it."""
    pytester.makepyfile(test_user=textwrap.dedent(source))
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_docsSamplesPass(pytester: pytest.Pytester) -> None:
    """
    Every sample of the "Testing your handlers" page passes as a user's test
    suite, with no conftest: synchronous tests with urllib, requests and
    httpx, pytest-twisted tests with treq, and the in-memory client.
    """
    shutil.copytree(SAMPLES, pytester.path, dirs_exist_ok=True)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=9)


def test_requestsAreRecordedInOrderWithWhatWasSent(pytester: pytest.Pytester) -> None:
    """
    ``server.requests`` lists each request in order of arrival with its
    method, path as sent (still percent-encoded) without the query, the
    query, every header field line as sent (names in the client's case, in
    the client's order, a repeated name twice) and the body bytes,
    including bytes that are not UTF-8; a request for a missing file is
    recorded too.
    """
    pytester.mkdir("root")
    result = runUserTests(pytester, """
        import socket

        def send(port, data):
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass

        def test_records(pyhandlers):
            server = pyhandlers("root")
            send(server.port, b"PUT /a%20b/c.py?x=1&y=%C3%A9 HTTP/1.1\\r\\nHost: h\\r\\n"
                              b"X-Twice: one\\r\\nContent-Length: 3\\r\\nx-TWICE: two\\r\\n"
                              b"Connection: close\\r\\n\\r\\n\\xff\\x00z")
            send(server.port, b"GET /second HTTP/1.1\\r\\nHost: h\\r\\nConnection: close\\r\\n\\r\\n")
            first, second = server.requests
            assert first.method == "PUT"
            assert first.path == "/a%20b/c.py"
            assert first.query == "x=1&y=%C3%A9"
            assert first.headers == [("Host", "h"), ("X-Twice", "one"), ("Content-Length", "3"),
                                     ("x-TWICE", "two"), ("Connection", "close")]
            assert first.header("content-length") == "3"
            assert first.body == b"\\xff\\x00z"
            assert (second.method, second.path, second.query, second.body) == ("GET", "/second", "", b"")
    """)
    result.assert_outcomes(passed=1)


def test_serversStopWhenTheTestEnds(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """
    Several servers per test each get their own port and share one stash
    with the test; when the test ends, every one of them has stopped: their
    ports refuse connections.
    """
    pytester.mkdir("root")
    ports = tmp_path / "ports"
    result = runUserTests(pytester, f"""
        import uuid
        import urllib.request

        def test_two(pyhandlers):
            a, b = pyhandlers("root"), pyhandlers("root")
            assert a.port != b.port
            key = str(uuid.uuid4())
            a.stash.put(key, "shared", path="/x")
            assert b.stash.take(key, path="/x") == "shared"
            for server in (a, b):
                assert urllib.request.urlopen(server.url("")).status == 200
            open({str(ports)!r}, "w").write(f"{{a.port}} {{b.port}}")
    """)
    result.assert_outcomes(passed=1)
    for port in map(int, ports.read_text().split()):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_stashIsSharedWithHandlersAndEmptiedAfterTheTest(pytester: pytest.Pytester) -> None:
    """
    A value a handler puts is taken by the test and the other way round,
    with the handler's path rules (its URL path by default); the next test
    starts with an empty stash.
    """
    root = pytester.mkdir("root")
    (root / "put.py").write_text(textwrap.dedent("""
        def main(request, response):
            request.server.stash.put(request.GET.first("id"), {"from": "handler"})
            return "ok"
    """))
    result = runUserTests(pytester, """
        import urllib.request

        KEY = "0ef4b3a2-1b3e-4c52-9a4e-2b1c0b4d7a11"

        def test_first(pyhandlers):
            server = pyhandlers("root")
            urllib.request.urlopen(server.url("put.py?id=" + KEY)).close()
            assert server.stash.take(KEY, path="/other.py") is None
            assert server.stash.take(KEY.upper(), path=b"/put.py") == {"from": "handler"}
            assert server.stash.take(KEY, path="/put.py") is None
            urllib.request.urlopen(server.url("put.py?id=" + KEY)).close()

        def test_second(pyhandlers):
            server = pyhandlers("root")
            assert server.stash.take(KEY, path="/put.py") is None
    """)
    result.assert_outcomes(passed=2)


def test_startupFailureIsAClearTestError(pytester: pytest.Pytester) -> None:
    """
    A server that cannot start fails the test with one message that says
    so and carries the child's own output (here: the bad config file),
    without a traceback through the plugin.
    """
    pytester.mkdir("root")
    pytester.path.joinpath("bad.json").write_text("{not json")
    result = runUserTests(pytester, """
        def test_bad(pyhandlers):
            pyhandlers("root", config="bad.json")
    """)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*twisted_pyhandlers test server for 'root' exited with status 1 before listening*",
        "*bad.json: not valid JSON*",
    ])
    assert "_childserver.py" not in result.stdout.str()
    assert "manager://:" not in result.stdout.str().replace("manager://:***@", "")


def test_badArgumentsAreClearErrors(pytester: pytest.Pytester) -> None:
    """
    An in-memory stash the test could not reach and a root that is not a
    directory are each refused with a message naming the problem.
    """
    pytester.mkdir("root")
    result = runUserTests(pytester, """
        import pytest

        def test_memory_stash(pyhandlers):
            with pytest.raises(ValueError, match="test cannot reach it"):
                pyhandlers("root", stash="memory:")

        def test_not_a_directory(pyhandlers):
            with pytest.raises(ValueError, match="not a directory"):
                pyhandlers("missing")
    """)
    result.assert_outcomes(passed=2)


def test_tlsServesHTTPSWithAMadeCertificate(pytester: pytest.Pytester) -> None:
    """
    ``tls=True`` serves HTTPS on 127.0.0.1 with a certificate that a client
    verifying against the server's ``ca`` accepts (and one with no CA
    refuses), offers only HTTP/1.1 by ALPN, records the request, and gives
    the SPKI pin of the key on the wire.
    """
    root = pytester.mkdir("root")
    (root / "hello.py").write_text("def main(request, response):\n    return request.url_parts.scheme\n")
    result = runUserTests(pytester, """
        import base64, hashlib, socket, ssl, urllib.request, urllib.error, pytest
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        def test_https(pyhandlers):
            server = pyhandlers("root", tls=True)
            assert server.base_url.startswith("https://127.0.0.1:")
            context = ssl.create_default_context(cafile=server.ca)
            with urllib.request.urlopen(server.url("hello.py"), context=context, timeout=20) as answer:
                assert answer.read() == b"https"
            assert [r.path for r in server.requests] == ["/hello.py"]
            with pytest.raises(urllib.error.URLError):
                urllib.request.urlopen(server.url("hello.py"), context=ssl.create_default_context(), timeout=20)
            context.set_alpn_protocols(["h2", "http/1.1"])
            with socket.create_connection(("127.0.0.1", server.port), timeout=20) as raw:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    assert tls.selected_alpn_protocol() == "http/1.1"
                    der = tls.getpeercert(binary_form=True)
            spki = x509.load_der_x509_certificate(der).public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            assert server.spkiPin == base64.b64encode(hashlib.sha256(spki).digest()).decode()
            assert server.config["ports"]["https"] == [server.port]
    """)
    result.assert_outcomes(passed=1)


def test_handlerLogIsShownWithAFailingTest(pytester: pytest.Pytester) -> None:
    """
    A handler's traceback and what it prints go to the server's log, which
    pytest shows beside a failing test (and which ``server.log`` reads).
    """
    root = pytester.mkdir("root")
    (root / "boom.py").write_text(textwrap.dedent("""
        def main(request, response):
            print("printed by the handler")
            raise ValueError("handler exploded")
    """))
    result = runUserTests(pytester, """
        import urllib.error, urllib.request, pytest

        def test_boom(pyhandlers):
            server = pyhandlers("root")
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(server.url("boom.py"))
            assert "handler exploded" in server.log
            assert False, "the test fails"
    """)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*twisted_pyhandlers server log*",
        "*printed by the handler*",
    ])
    assert "ValueError: handler exploded" in result.stdout.str()


def test_twistedAndSynchronousTestsInOneRun(pytester: pytest.Pytester) -> None:
    """
    The same fixture serves a pytest-twisted test (treq, the reactor turning
    while the test waits) and, after it, a plain synchronous test (the
    reactor suspended): the server does not depend on the test's reactor.
    """
    root = pytester.mkdir("root")
    (root / "hi.py").write_text("def main(request, response):\n    return 'hi'\n")
    result = runUserTests(pytester, """
        import urllib.request
        import pytest_twisted, treq

        @pytest_twisted.ensureDeferred
        async def test_a_twisted(pyhandlers):
            server = pyhandlers("root")
            assert await (await treq.get(server.url("hi.py"))).text() == "hi"

        def test_b_sync(pyhandlers):
            server = pyhandlers("root")
            assert urllib.request.urlopen(server.url("hi.py")).read() == b"hi"
    """)
    result.assert_outcomes(passed=2)
