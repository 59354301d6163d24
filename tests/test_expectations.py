"""
The matching and counting rules of a test server's expectations and
request log (``twisted_pyhandlers._expectations``), on recorded requests:
the wire side is in ``test_pytest_plugin.py``.
"""

from __future__ import annotations

import re
import threading
from typing import Sequence, Tuple

import pytest

from twisted_pyhandlers._childserver import RecordedRequest
from twisted_pyhandlers._expectations import Expectation, Expectations, RequestLog, RequestMatch


def recorded(
    method: str = "GET",
    path: str = "/",
    query: str = "",
    headers: Sequence[Tuple[str, str]] = (),
    body: bytes = b"",
) -> RecordedRequest:
    return RecordedRequest(method=method, path=path, query=query, headers=list(headers), body=body)


def test_pathMatchesAsSentOrDecodedByPatternOrPredicate() -> None:
    """
    A string path matches the path as sent or percent-decoded, never the
    query; a compiled pattern searches the decoded path; a function is
    asked about the decoded path; a path holding a query is refused.
    """
    request = recorded(path="/a%20b", query="x=1")
    assert RequestMatch("/a%20b").matches(request)
    assert RequestMatch("/a b").matches(request)
    assert not RequestMatch("/a").matches(request)
    assert RequestMatch(re.compile("^/a ")).matches(request)
    assert RequestMatch(lambda path: path.endswith(" b")).matches(request)
    with pytest.raises(ValueError, match="query="):
        RequestMatch("/a?x=1")


def test_methodQueryHeadersBodyJsonFormWhere() -> None:
    """
    The method in any case; the query as a string exactly, or as a mapping
    in any order (a list for a repeated name, blank values kept, no extra
    names); header names in any case, values exact (blanks aside) or a
    predicate that sees None for a missing header; the body as bytes or
    text; JSON parsed (a body that is not JSON does not match); a form
    body parsed; ``where`` over the whole request.
    """
    request = recorded(
        "POST", "/api", "b=2&a=1&a=3&flag=", [("X-Token", " abc "), ("Content-Type", "application/json")], b'{"k": [1]}'
    )
    assert RequestMatch(method="post").matches(request)
    assert not RequestMatch(method="GET").matches(request)
    assert RequestMatch(query="b=2&a=1&a=3&flag=").matches(request)
    assert RequestMatch(query={"a": ["1", "3"], "b": 2, "flag": ""}).matches(request)
    assert not RequestMatch(query={"a": ["1", "3"], "b": "2"}).matches(request)
    assert not RequestMatch(query={"a": "1", "b": "2", "flag": ""}).matches(request)
    assert RequestMatch(headers={"x-token": "abc"}).matches(request)
    assert RequestMatch(headers={"X-Missing": lambda value: value is None}).matches(request)
    assert not RequestMatch(headers={"X-Missing": "x"}).matches(request)
    assert RequestMatch(body='{"k": [1]}').matches(request)
    assert RequestMatch(json={"k": [1]}).matches(request)
    assert not RequestMatch(json={"k": [2]}).matches(recorded(body=b"not json"))
    assert RequestMatch(form={"name": "Jane Doe", "flag": ""}).matches(recorded(body=b"flag=&name=Jane+Doe"))
    assert RequestMatch(where=lambda r: r.header("content-type") == "application/json").matches(request)
    with pytest.raises(ValueError, match="not both"):
        RequestMatch(body=b"x", json={})


def test_mismatchesSayWhy() -> None:
    """Each criterion that fails is named with what was received."""
    why = RequestMatch("/b", method="PUT", json={"id": 1}).mismatches(recorded("POST", "/a", body=b'{"id": 2}'))
    assert why == ["path '/a'", "method POST", "JSON {'id': 2}"]


def test_requestLogCountsAndAsserts() -> None:
    """
    The log is a sequence of the requests in order; ``count`` and
    ``matching`` take the criteria; ``assert_received`` fails with the
    counts and every request, each with how it differs.
    """
    log = RequestLog()
    for path in ("/a", "/b", "/a"):
        log.append(recorded(path=path))
    assert len(log) == 3 and [r.path for r in log] == ["/a", "/b", "/a"] and log[1].path == "/b"
    assert log.count("/a") == 2 and log.count(method="POST") == 0
    assert log.matching("/b") == [log[1]]
    log.assert_received("/b")
    log.assert_received("/c", times=0)
    with pytest.raises(AssertionError) as failure:
        log.assert_received("/a")
    assert str(failure.value).startswith("expected 1 request /a, received 2 requests\nrequests received:\n  GET /a\n")
    assert "  GET /b  (differs: path '/b')" in str(failure.value)
    log.clear()
    assert log == []


def test_expectationsTakeRequestsInTurnAndInOrder() -> None:
    """
    A request goes to the first matching expectation that still wants
    requests, else to the first matching one (counted one too many); an
    ordered expectation taken before an earlier ordered one is met is a
    problem; with ``expect_nothing_else``, so is a request nobody took;
    ``clear`` forgets everything.
    """
    expectations = Expectations()
    first = expectations.add(Expectation(RequestMatch("/poll")).once().respond("one"))
    second = expectations.add(Expectation(RequestMatch("/poll")).once().respond("two"))
    answers = [expectations.take(recorded(path="/poll")) for _ in range(3)]
    assert [answer(None, None) for answer in answers if answer] == ["one", "two", "one"]
    assert (len(first.received), len(second.received)) == (2, 1)
    assert expectations.problems() == ["expected 1 request /poll, received 2 requests"]

    expectations.clear()
    expectations.add(Expectation(RequestMatch("/1"), ordered=True))
    expectations.add(Expectation(RequestMatch("/2"), ordered=True))
    expectations.expect_nothing_else()
    for path in ("/2", "/1", "/3"):
        expectations.take(recorded(path=path))
    assert expectations.problems() == [
        "GET /2 came for expect(/2) before expect(/1) was met (ordered)",
        "unexpected request GET /3 (expect_nothing_else() was called)",
    ]
    expectations.clear()
    assert expectations.problems() == []
    assert expectations.take(recorded(path="/3")) is None and expectations.problems() == []


def test_respondTakesEveryReturnForm() -> None:
    """``respond`` answers with a wptserve return value, or JSON with its type and status."""
    assert Expectation(RequestMatch()).respond("x").answer(None, None) == "x"  # type: ignore[misc]
    assert Expectation(RequestMatch()).respond(201, [], "x").answer(None, None) == (201, [], "x")  # type: ignore[misc]
    assert Expectation(RequestMatch()).respond("x", status=404).answer(None, None) == (404, [], "x")  # type: ignore[misc]
    answer = Expectation(RequestMatch()).respond(json={"a": 1}, status=201).answer(None, None)  # type: ignore[misc]
    assert answer == (201, [("Content-Type", "application/json")], '{"a": 1}')


def test_waitForReturnsOnceTheRequestsCameOrFailsListingThem() -> None:
    """
    ``wait_for`` returns the matching requests as soon as enough were
    appended from another thread, and fails after its timeout saying how
    many came, with the listing.
    """
    log = RequestLog()
    later = threading.Timer(0.05, lambda: [log.append(recorded(path=p)) for p in ("/x", "/y", "/x")])
    later.start()
    assert [r.path for r in log.wait_for("/x", times=2, timeout=10)] == ["/x", "/x"]
    later.join()
    with pytest.raises(AssertionError) as failure:
        log.wait_for("/z", timeout=0.01)
    assert str(failure.value).startswith("waited 0.01 s for 1 request /z, received no request\nrequests received:\n")
