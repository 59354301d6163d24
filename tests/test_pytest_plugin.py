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
    suite, with no conftest: the shortest test, handler functions, every
    protocol, a shared server, the counterpart of each of pytest-httpserver's
    howto scenarios, synchronous tests with urllib, requests and httpx,
    pytest-twisted tests with treq, and the in-memory client.
    """
    shutil.copytree(SAMPLES, pytester.path, dirs_exist_ok=True)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=38)


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

        def test_bad_child(pyhandlers):
            pyhandlers("root", config="bad.json", process=True)
    """)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*twisted_pyhandlers test server for '*root': Config file bad.json: not valid JSON*",
        "*twisted_pyhandlers test server for 'root' exited with status 1 before listening*",
        "*bad.json: not valid JSON*",
    ])
    assert "During handling" not in result.stdout.str()
    assert "_inprocess.py" not in result.stdout.str()
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
                pyhandlers("root", stash="memory:", process=True)

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


def test_handlerErrorFailsTheTestAtTeardown(pytester: pytest.Pytester) -> None:
    """
    A handler that raised fails its test at teardown, even though the test
    body passed: the failure shows the handler's traceback and the request
    that triggered it (method, URL, headers); what the handler printed and
    the server's log are in the report.  ``allow_errors()`` lets a test
    that expects errors pass and hands it the errors; a passing test with
    a 404 is not an error.
    """
    root = pytester.mkdir("root")
    (root / "boom.py").write_text(textwrap.dedent("""
        def main(request, response):
            print("printed by the handler")
            raise ValueError("handler exploded")
    """))
    result = runUserTests(pytester, """
        import urllib.error, urllib.request, pytest

        def get(url, headers={}):
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(urllib.request.Request(url, headers=headers))
            return error.value.code

        def test_boom(pyhandlers):
            server = pyhandlers("root")
            assert get(server.url("boom.py?n=1"), {"X-Mine": "yes"}) == 500

        def test_function_boom(pyhandlers):
            def main(request, response):
                return {}["missing key in a function"]
            server = pyhandlers(handlers={"/api": main})
            assert get(server.url("/api")) == 500

        def test_expected(pyhandlers):
            server = pyhandlers("root")
            errors = server.allow_errors()
            assert get(server.url("boom.py")) == 500
            assert len(errors) == 1 and "ValueError: handler exploded" in errors[0].text
            assert errors[0].request.startswith("GET http://127.0.0.1:")

        def test_not_found_is_no_error(pyhandlers):
            server = pyhandlers("root")
            assert get(server.url("missing.py")) == 404
    """)
    result.assert_outcomes(passed=4, errors=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_boom*",
        "*a handler failed on*",
        "GET http://127.0.0.1:*/boom.py?n=1",
        "*x-mine: yes*",
        "*raise ValueError(\"handler exploded\")*",
        "*ValueError: handler exploded*",
        "*GET /boom.py?n=1*",
    ])
    boom = out[out.index("ERROR at teardown of test_boom"):out.index("ERROR at teardown of test_function_boom")]
    assert "Captured stdout call" in boom and "printed by the handler" in boom
    assert "KeyError: 'missing key in a function'" in out
    assert "twisted_pyhandlers server log" in out


def test_failingTestGetsTheServerLog(pytester: pytest.Pytester) -> None:
    """
    A test that fails in its body gets, in its report, the log of each
    server it used: here the warning the server logged for a missing
    WebSocket handler directory.
    """
    result = runUserTests(pytester, """
        def test_fails(pyhandlers):
            pyhandlers(ws=True)
            assert False, "the test fails"
    """)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*twisted_pyhandlers server log (http://127.0.0.1:*",
        "*no WebSocket handler directory*",
    ])


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


def test_handlerFunctionsWrittenInTheTest(pytester: pytest.Pytester) -> None:
    """
    Functions written in the test answer their paths (the query aside, the
    path as sent or percent-decoded) with wptserve's signature and every
    return form: text, bytes, ``(headers, body)``, ``(status, headers,
    body)``, ``((code, reason), headers, body)``, an iterable, the raw
    writer, ``async def`` (awaiting a timed call on ``server.reactor``); a closure sees and changes the test's own
    objects; the stash is shared with the test; the query's pipes apply; a
    function added while the server runs answers the next request and a
    removed one no longer does; a root serves its files beside them, and
    with no root anything else is a 404 (``/`` included: no listing).  The same works in a
    pytest-twisted test with treq.
    """
    root = pytester.mkdir("root")
    (root / "file.txt").write_text("from the root")
    result = runUserTests(pytester, """
        import uuid
        import httpx, pytest_twisted, treq
        from twisted.internet.task import deferLater

        def test_forms(pyhandlers):
            seen = []
            def closure(request, response):
                seen.append(request.GET.first("v").decode())
                return "seen " + ",".join(seen)
            def writer(request, response):
                response.writer.write_status(201)
                response.writer.write_header("X-Raw", "yes")
                response.writer.end_headers()
                response.writer.write(b"raw body")
            async def later(request, response):
                return "awaited"
            server = pyhandlers("root", handlers={
                "/closure": closure,
                "/bytes": lambda request, response: b"\\x00\\xff",
                "/pair": lambda request, response: ([("X-A", "1")], "pair"),
                "/triple": lambda request, response: (202, [("X-B", "2")], "triple"),
                "/reason": lambda request, response: ((299, "Fine"), [], "reason"),
                "/iter": lambda request, response: iter([b"a", b"b"]),
                "/writer": writer,
                "/async": later,
                "/a b": lambda request, response: request.url_parts.path,
            })
            get = lambda path: httpx.get(server.url(path))
            assert get("/closure?v=1").text == "seen 1"
            assert get("/closure?v=2").text == "seen 1,2" and seen == ["1", "2"]
            assert get("/bytes").content == b"\\x00\\xff"
            assert get("/pair").headers["X-A"] == "1"
            answer = get("/triple")
            assert (answer.status_code, answer.headers["X-B"], answer.text) == (202, "2", "triple")
            answer = get("/reason")
            assert (answer.status_code, answer.reason_phrase, answer.text) == (299, "Fine", "reason")
            assert get("/iter").text == "ab"
            answer = get("/writer")
            assert (answer.status_code, answer.headers["X-Raw"], answer.text) == (201, "yes", "raw body")
            assert get("/async").text == "awaited"
            assert get("/a%20b").text == "/a%20b"
            assert get("/pair?pipe=status(418)").status_code == 418
            assert get("/file.txt").text == "from the root"
            assert get("/later").status_code == 404
            server.add_handler("/later", lambda request, response: "added")
            assert get("/later").text == "added"
            server.remove_handler("/later")
            assert get("/later").status_code == 404
            async def timed(request, response):
                await deferLater(server.reactor, 0.01, lambda: None)
                return "timed on the server's reactor"
            server.add_handler("/timed", timed)
            assert get("/timed").text == "timed on the server's reactor"

        def test_stash_and_no_root(pyhandlers):
            key = str(uuid.uuid4())
            def take(request, response):
                return request.server.stash.take(key)
            server = pyhandlers(handlers={"/take": take})
            server.stash.put(key, "from the test", path="/take")
            assert httpx.get(server.url("/take")).text == "from the test"
            assert httpx.get(server.url("/file.txt")).status_code == 404
            assert httpx.get(server.url("/")).status_code == 404  # no listing of a stand-in root

        @pytest_twisted.ensureDeferred
        async def test_twisted(pyhandlers):
            server = pyhandlers(handlers={"/hi": lambda request, response: "hi"})
            server.expect("/hi").once()
            assert await (await treq.get(server.url("/hi"))).text() == "hi"
    """)
    result.assert_outcomes(passed=3)


def test_functionsDoNotCrossAProcessBoundary(pytester: pytest.Pytester) -> None:
    """
    ``process=True`` with ``handlers=`` is refused in one line saying why
    and what to do instead; a handler path with a query, or not absolute,
    is refused too.
    """
    pytester.mkdir("root")
    result = runUserTests(pytester, """
        import pytest

        def test_refused(pyhandlers):
            with pytest.raises(ValueError) as error:
                pyhandlers("root", handlers={"/x": lambda request, response: ""}, process=True)
            message = str(error.value)
            assert "\\n" not in message
            assert "do not cross a process boundary" in message and "leave process=True out" in message

        def test_bad_paths(pyhandlers):
            with pytest.raises(ValueError, match="holds one"):
                pyhandlers(handlers={"/x?a=1": lambda request, response: ""})
            with pytest.raises(ValueError, match="starts with /"):
                pyhandlers(handlers={"x": lambda request, response: ""})
    """)
    result.assert_outcomes(passed=2)


def test_expectationsPassWhenMet(pytester: pytest.Pytester) -> None:
    """
    Expectations match by method, path (exact, regular expression,
    predicate), query (string or mapping), headers (exact or predicate),
    body, JSON and form; several ``once()`` expectations on one path answer
    in turn; ordered ones met in order pass; ``times(0)`` holds when nothing
    came; ``expect_nothing_else`` passes when every request was expected;
    the request log counts and lists matches.
    """
    result = runUserTests(pytester, """
        import re
        import httpx

        def test_met(pyhandlers):
            server = pyhandlers()
            server.expect("/a", method="POST", query={"x": ["1", "2"]}, headers={"X-T": "t"}, body="hi").once()
            server.expect(re.compile("^/b/"), json={"k": [1]}).respond(json={"ok": True}, status=201)
            server.expect(lambda path: path.endswith(".form"), form={"a": "1", "b": ""}).respond("form")
            server.expect("/never").times(0)
            server.expect_nothing_else()
            assert httpx.post(server.url("/a?x=1&x=2"), headers={"X-T": "t"}, content=b"hi").status_code == 404
            answer = httpx.put(server.url("/b/c"), json={"k": [1]})
            assert (answer.status_code, answer.json()) == (201, {"ok": True})
            assert httpx.post(server.url("/f.form"), data={"a": "1", "b": ""}).text == "form"
            assert server.requests.count(method="POST") == 2
            assert [r.path for r in server.requests.matching(re.compile("^/[bf]"))] == ["/b/c", "/f.form"]

        def test_answers_in_turn(pyhandlers):
            server = pyhandlers()
            server.expect("/poll").once().respond("pending")
            server.expect("/poll").once().respond("done")
            assert [httpx.get(server.url("/poll")).text for _ in range(2)] == ["pending", "done"]

        def test_ordered(pyhandlers):
            server = pyhandlers()
            server.expect("/login", ordered=True).respond("in")
            server.expect("/data", ordered=True).times(2).respond("data")
            server.expect("/logout", ordered=True).respond("out")
            texts = [httpx.get(server.url(p)).text for p in ("/login", "/data", "/data", "/logout")]
            assert texts == ["in", "data", "data", "out"]
    """)
    result.assert_outcomes(passed=3)


def test_expectationsNotMetFailTheTest(pytester: pytest.Pytester) -> None:
    """
    At teardown a test fails for an expected request that never came, one
    that came more often than said, an ordered one that came too early, and
    a request nobody expected after ``expect_nothing_else``; each message
    names the expectation and the failure lists the requests received, with
    why each differs.  ``server.check()`` fails the same way in the test
    body.
    """
    result = runUserTests(pytester, """
        import httpx, pytest

        def test_never_came(pyhandlers):
            server = pyhandlers()
            server.expect("/api", method="POST", json={"id": 1})
            httpx.post(server.url("/api"), json={"id": 2})

        def test_too_many(pyhandlers):
            server = pyhandlers()
            server.expect("/once").once()
            httpx.get(server.url("/once"))
            httpx.get(server.url("/once"))

        def test_out_of_order(pyhandlers):
            server = pyhandlers()
            server.expect("/first", ordered=True)
            server.expect("/second", ordered=True)
            httpx.get(server.url("/second"))
            httpx.get(server.url("/first"))

        def test_unexpected(pyhandlers):
            server = pyhandlers()
            server.expect("/known")
            server.expect_nothing_else()
            httpx.get(server.url("/known"))
            httpx.get(server.url("/stranger?x=1"))

        def test_check_in_the_body(pyhandlers):
            server = pyhandlers()
            server.expect("/later")
            with pytest.raises(AssertionError, match="expected /later: it never came"):
                server.check()
            httpx.get(server.url("/later"))
            server.check()
    """)
    result.assert_outcomes(passed=5, errors=4)
    result.stdout.fnmatch_lines([
        "*- expected POST /api json={'id': 1}: it never came; the requests differ:",
        "    POST /api: JSON {'id': 2}",
        "*- expected 1 request /once, received 2 requests*",
        "*- GET /second came for expect(/second) before expect(/first) was met (ordered)*",
        "*- unexpected request GET /stranger?x=1 (expect_nothing_else() was called)*",
    ])


def test_everyProtocolFromTheFixture(pytester: pytest.Pytester) -> None:
    """
    ``h2=True`` serves HTTP/2 over TLS (ALPN h2; httpx with http2 speaks
    HTTP/2 to ``url(path, scheme="h2")``), ``tls=True`` HTTPS and, with
    ``ws=True``, ``wss``; ``ws=True`` serves the root's ``*_wsh.py``
    handlers (the ``websockets`` client, text and binary); handler
    functions and files answer on every HTTP port, with the protocol they
    were reached by; a scheme not served is refused naming the option.
    """
    handlers = pytester.mkdir("root") / "websockets"
    handlers.mkdir()
    (handlers / "handlers").mkdir()
    (handlers / "handlers" / "echo_wsh.py").write_text(textwrap.dedent("""
        def web_socket_do_extra_handshake(request):
            pass

        def web_socket_transfer_data(request):
            while True:
                message = request.ws_stream.receive_message()
                if message is None:
                    return
                request.ws_stream.send_message(message, binary=not isinstance(message, str))
    """))
    (pytester.path / "root" / "proto.py").write_text(
        "def main(request, response):\n    return request.protocol_version\n"
    )
    (pytester.path / "root" / "frames.py").write_text(textwrap.dedent("""
        def handle_headers(frame, request, response):
            response.headers.set("X-Early", "headers seen")

        def handle_data(frame, request, response):
            response.headers.append("X-Frame", str(len(frame.data)))

        def main(request, response):
            return "frames %d" % len(request.frames)
    """))
    result = runUserTests(pytester, """
        import ssl
        import httpx, pytest
        from websockets.sync.client import connect

        def protocol(request, response):
            return f"{request.url_parts.scheme} {request.protocol_version}"

        def test_http_https_h2(pyhandlers):
            server = pyhandlers("root", handlers={"/p": protocol}, tls=True, h2=True)
            assert server.base_url == server.url("/", scheme="https")
            with httpx.Client(http2=True, verify=server.ca) as client:
                answer = client.get(server.url("/p", scheme="h2"))
                assert (answer.http_version, answer.text) == ("HTTP/2", "https HTTP/2.0")
                assert client.get(server.url("/proto.py", scheme="h2")).text == "HTTP/2.0"
                answer = client.post(server.url("/frames.py", scheme="h2"), content=b"x" * 10)
                assert answer.headers["X-Early"] == "headers seen" and answer.text.startswith("frames ")
                answer = client.get(server.url("/p", scheme="https"))
                assert (answer.http_version, answer.text) == ("HTTP/1.1", "https HTTP/1.1")
            assert httpx.get(server.url("/p", scheme="http")).text == "http HTTP/1.1"
            assert [r.path for r in server.requests] == ["/p", "/proto.py", "/frames.py", "/p", "/p"]
            assert server.requests.matching("/frames.py")[0].body == b"x" * 10

        def test_ws_wss(pyhandlers):
            server = pyhandlers("root", ws=True, tls=True)
            with connect(server.url("/echo", scheme="ws")) as ws:
                ws.send("hello")
                assert ws.recv() == "hello"
            with connect(server.url("/echo", scheme="wss"), ssl=ssl.create_default_context(cafile=server.ca)) as ws:
                ws.send(b"\\x00\\x01")
                assert ws.recv() == b"\\x00\\x01"

        def test_ws_functions(pyhandlers):
            seen = []
            def check(request):
                if request.ws_origin == "http://refused.test":
                    raise ValueError("refused")
            def shout(request):
                message = request.ws_stream.receive_message()
                seen.append(message)
                request.ws_stream.send_message(message.upper(), binary=False)
            server = pyhandlers(websockets={"/shout": (check, shout)})
            with connect(server.url("/shout", scheme="ws")) as ws:
                ws.send("hi")
                assert ws.recv() == "HI"
            assert seen == ["hi"]
            with pytest.raises(Exception):
                with connect(server.url("/shout", scheme="ws"), origin="http://refused.test") as ws:
                    ws.recv()
            server.add_websocket("/late", lambda request: request.ws_stream.send_message("late", binary=False))
            with connect(server.url("/late", scheme="ws")) as ws:
                assert ws.recv() == "late"

        def test_unserved_scheme(pyhandlers):
            server = pyhandlers()
            with pytest.raises(ValueError, match="does not serve 'h2'; start it with h2=True"):
                server.url("/", scheme="h2")
            with pytest.raises(ValueError, match="start it with ws=True, tls=True"):
                server.url("/", scheme="wss")
            with pytest.raises(ValueError, match="start it with ws=True"):
                server.add_websocket("/x", lambda request: None)
    """)
    result.assert_outcomes(passed=4)


def test_sharedServerStartsEachTestAfresh(pytester: pytest.Pytester) -> None:
    """
    A module-scoped server of the user's (``serve``) adopted per test with
    ``pyhandlers.use``: each test sees only its own requests and
    expectations; an expectation not met fails only the test that made it;
    the functions stay for every test; the server stops with its scope.
    """
    result = runUserTests(pytester, """
        import httpx, pytest
        from twisted_pyhandlers.testing import serve

        @pytest.fixture(scope="module")
        def shared():
            with serve(handlers={"/hi": lambda request, response: "hi"}) as server:
                yield server

        @pytest.fixture
        def server(shared, pyhandlers):
            return pyhandlers.use(shared)

        def test_one(server):
            server.expect("/hi").once()
            assert httpx.get(server.url("/hi")).text == "hi"
            assert len(server.requests) == 1

        def test_two_fails(server):
            assert len(server.requests) == 0
            server.expect("/missing")

        def test_three(server):
            assert len(server.requests) == 0
            assert httpx.get(server.url("/hi")).text == "hi"
    """, "-p", "no:randomly")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_two_fails*", "*expected /missing: it never came*"])
