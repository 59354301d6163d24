"""
What a test server received, and what the test expected it to receive.

The model is pytest-httpserver's, so that a test moving over reads the same:

- a :class:`RequestMatch` says which requests count: by method, path
  (exact, a regular expression or a predicate), query (the string as sent,
  or a mapping compared with the parsed query, order aside), headers (names
  in any case; values exact or a predicate), body (bytes or text), JSON body,
  form body, or any predicate over the :class:`RecordedRequest`;
- an :class:`Expectation` is a match that must come: at least once by
  default, or exactly ``n`` times (:meth:`Expectation.times`,
  :meth:`Expectation.once`), optionally in the order the ordered ones were
  declared; it may also answer the requests it matches
  (:meth:`Expectation.respond`, :meth:`Expectation.respond_with`);
- :class:`RequestLog` is ``server.requests``: the requests in the order the
  server took them, with :meth:`RequestLog.matching`,
  :meth:`RequestLog.count` and :meth:`RequestLog.assert_received`;
- :class:`Expectations` holds one server's expectations and says, at the
  end of a test (:meth:`Expectations.problems`), which were not met, and
  which requests nobody expected once the test said
  :meth:`Expectations.expect_nothing_else`.

Requests are recorded on the reactor thread, as the server takes them; the
test reads from its own thread, so every list here changes under a lock.
"""

from __future__ import annotations

import json as jsonModule
import re
import threading
from types import FunctionType, MethodType
from typing import Any, Callable, Iterator, List, Mapping, Optional, Pattern, Tuple, Union
from urllib.parse import parse_qsl, unquote

from twisted_pyhandlers._childserver import RecordedRequest

__all__ = ["Expectation", "Expectations", "RequestLog", "RequestMatch"]

#: How a path is matched: exactly (the path as sent, or percent-decoded), by
#: a compiled regular expression (``search`` on the decoded path), or by a
#: predicate over the decoded path.
PathSpec = Union[str, Pattern[str], Callable[[str], bool]]

#: A header's expected value: exact (after stripping blanks), or a predicate
#: over the value received (None when the header is missing).
HeaderSpec = Union[str, Callable[[Optional[str]], bool]]

#: The JSON body a match wants; a sentinel, since ``None`` is JSON's null.
_ANY = object()


def _decodedPath(request: RecordedRequest) -> str:
    return unquote(request.path)


class RequestMatch:
    """
    Which requests count.  Every criterion given must hold; one left out
    matches anything.

    :param path: ``"/api/echo"`` (the path as sent or percent-decoded, the
        query never part of it), ``re.compile("^/api/")``, or a function of
        the decoded path.
    :param method: ``"POST"`` (any case).
    :param query: the query string as sent (``"a=1&b=2"``), or a mapping
        compared with the parsed query, order aside (``{"a": "1"}``: each
        name's values, a single value for a name sent once; blank values
        kept).
    :param headers: ``{"X-Token": "abc"}``: names in any case; a value is
        exact or a predicate over the value received (None if absent).
    :param body: the exact body, bytes or text (UTF-8).
    :param json: the body parsed as JSON equals this.
    :param form: the body parsed as ``application/x-www-form-urlencoded``
        equals this mapping (as ``query``).
    :param where: any predicate over the :class:`RecordedRequest`.
    """

    def __init__(
        self,
        path: Optional[PathSpec] = None,
        *,
        method: Optional[str] = None,
        query: Union[str, Mapping[str, Any], None] = None,
        headers: Optional[Mapping[str, HeaderSpec]] = None,
        body: Union[bytes, str, None] = None,
        json: Any = _ANY,
        form: Optional[Mapping[str, Any]] = None,
        where: Optional[Callable[[RecordedRequest], bool]] = None,
    ) -> None:
        if body is not None and json is not _ANY:
            raise ValueError("give body= or json=, not both: they match the same bytes")
        if isinstance(path, str) and "?" in path:
            raise ValueError(f"the path {path!r} holds a query: give it as query= (a string or a mapping)")
        self.path = path
        self.method = method.upper() if method is not None else None
        self.query = query
        self.headers = dict(headers or {})
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.json = json
        self.form = form
        self.where = where

    def mismatches(self, request: RecordedRequest) -> List[str]:
        """Why ``request`` does not match (empty if it does).  Any thread."""
        why: List[str] = []
        if self.path is not None and not self._pathMatches(request):
            why.append(f"path {request.path!r}")
        if self.method is not None and request.method.upper() != self.method:
            why.append(f"method {request.method}")
        if self.query is not None and not _pairsMatch(self.query, request.query):
            why.append(f"query {request.query!r}")
        for name, expected in self.headers.items():
            value = request.header(name)
            ok = expected(value) if callable(expected) else value is not None and value.strip() == expected.strip()
            if not ok:
                why.append(f"header {name}: {value!r}")
        if self.body is not None and request.body != self.body:
            why.append(f"body {request.body[:60]!r}")
        if self.json is not _ANY:
            try:
                parsed = jsonModule.loads(request.body)
            except ValueError:
                why.append("body is not JSON")
            else:
                if parsed != self.json:
                    why.append(f"JSON {parsed!r}")
        if self.form is not None and not _pairsMatch(self.form, request.body.decode("iso-8859-1")):
            why.append(f"form {request.body[:60]!r}")
        if self.where is not None and not self.where(request):
            why.append("where= said no")
        return why

    def matches(self, request: RecordedRequest) -> bool:
        """Whether ``request`` matches every criterion.  Any thread."""
        return not self.mismatches(request)

    def _pathMatches(self, request: RecordedRequest) -> bool:
        spec = self.path
        decoded = _decodedPath(request)
        if isinstance(spec, str):
            return spec in (request.path, decoded)
        if isinstance(spec, re.Pattern):
            return spec.search(decoded) is not None
        assert spec is not None
        return bool(spec(decoded))

    def __str__(self) -> str:
        parts: List[str] = []
        if self.method is not None:
            parts.append(self.method)
        if isinstance(self.path, re.Pattern):
            parts.append(f"path ~ {self.path.pattern!r}")
        elif self.path is not None:
            parts.append(self.path if isinstance(self.path, str) else f"path where {_name(self.path)}")
        for label, value in (("query", self.query), ("headers", self.headers or None), ("body", self.body), ("form", self.form)):
            if value is not None:
                parts.append(f"{label}={value!r}")
        if self.json is not _ANY:
            parts.append(f"json={self.json!r}")
        if self.where is not None:
            parts.append(f"where {_name(self.where)}")
        return " ".join(parts) or "any request"


def _name(function: Callable[..., Any]) -> str:
    if isinstance(function, (FunctionType, MethodType)):
        return function.__qualname__
    return repr(function)


def _pairsMatch(expected: Union[str, Mapping[str, Any]], received: str) -> bool:
    """
    A query (or form body) as sent against what was expected: the same
    string, or the same names with the same values, order aside.
    """
    if isinstance(expected, str):
        return received == expected
    parsed: dict[str, List[str]] = {}
    for name, value in parse_qsl(received, keep_blank_values=True):
        parsed.setdefault(name, []).append(value)
    if set(parsed) != set(expected):
        return False
    for name, want in expected.items():
        values = parsed[name]
        wanted = [str(item) for item in want] if isinstance(want, (list, tuple)) else [str(want)]
        if values != wanted:
            return False
    return True


def _describe(request: RecordedRequest) -> str:
    query = f"?{request.query}" if request.query else ""
    return f"{request.method} {request.path}{query}"


class RequestLog:
    """
    ``server.requests``: every request the server took, oldest first (a
    sequence: ``len``, indexing, iteration, ``==`` a list), and questions
    about them taking :class:`RequestMatch`'s criteria.  The server appends
    on the reactor thread; the test reads in its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._requests: List[RecordedRequest] = []

    def append(self, request: RecordedRequest) -> None:
        """Record ``request``, waking :meth:`wait_for`.  Reactor thread."""
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()

    def clear(self) -> None:
        """Forget every request (a shared server between tests).  Test thread."""
        with self._lock:
            self._requests.clear()

    def _snapshot(self) -> List[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def __len__(self) -> int:
        return len(self._snapshot())

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self._snapshot())

    def __getitem__(self, index: int) -> RecordedRequest:
        return self._snapshot()[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RequestLog):
            return self._snapshot() == other._snapshot()
        return self._snapshot() == other

    def __repr__(self) -> str:
        return f"<RequestLog {[_describe(request) for request in self._snapshot()]}>"

    def matching(self, path: Optional[PathSpec] = None, **criteria: Any) -> List[RecordedRequest]:
        """The requests that match (see :class:`RequestMatch`), oldest first."""
        match = RequestMatch(path, **criteria)
        return [request for request in self._snapshot() if match.matches(request)]

    def count(self, path: Optional[PathSpec] = None, **criteria: Any) -> int:
        """How many requests match (see :class:`RequestMatch`)."""
        return len(self.matching(path, **criteria))

    def assert_received(self, path: Optional[PathSpec] = None, *, times: int = 1, **criteria: Any) -> None:
        """
        Fail unless exactly ``times`` requests match (``times=0``: none
        did).  The message lists every request received.
        """
        __tracebackhide__ = True
        match = RequestMatch(path, **criteria)
        found = [request for request in self._snapshot() if match.matches(request)]
        if len(found) != times:
            raise AssertionError(
                f"expected {_times(times)} {match}, received {_times(len(found))}\n" + self.listing(match)
            )

    def wait_for(
        self, path: Optional[PathSpec] = None, *, times: int = 1, timeout: float = 10.0, **criteria: Any
    ) -> List[RecordedRequest]:
        """
        Block until at least ``times`` requests match (clients running in
        other threads), and return them; fail after ``timeout`` seconds,
        listing every request received.  Synchronous tests only: in a
        pytest-twisted test it would block the reactor the clients need
        (await them instead).  Test thread.
        """
        __tracebackhide__ = True
        match = RequestMatch(path, **criteria)
        with self._lock:
            found = self._lock.wait_for(
                lambda: len([r for r in self._requests if match.matches(r)]) >= times or None, timeout
            )
        if not found:
            raise AssertionError(
                f"waited {timeout:g} s for {_times(times)} {match}, received {_times(self.count(match.path, **criteria))}\n"
                + self.listing(match)
            )
        return self.matching(path, **criteria)

    def listing(self, match: Optional[RequestMatch] = None) -> str:
        """Every request received, one a line, with why it did not match ``match``."""
        lines = []
        for request in self._snapshot():
            why = match.mismatches(request) if match is not None else []
            note = f"  (differs: {', '.join(why)})" if why else ""
            lines.append(f"  {_describe(request)}{note}")
        return "requests received:\n" + ("\n".join(lines) if lines else "  (none)")


def _times(count: int) -> str:
    return {0: "no request", 1: "1 request"}.get(count, f"{count} requests")


class Expectation:
    """
    A request the test expects, made by ``server.expect(...)``: at least
    once unless :meth:`times` says how often.  Methods return the
    expectation, so calls chain.

    :ivar match: which requests it takes.
    :ivar received: the requests it took, oldest first.
    """

    def __init__(self, match: RequestMatch, ordered: bool = False) -> None:
        self.match = match
        self.ordered = ordered
        self.count: Optional[int] = None
        self.answer: Optional[Callable[[Any, Any], Any]] = None
        self.received: List[RecordedRequest] = []

    def times(self, count: int) -> Expectation:
        """Exactly ``count`` matching requests must come (0: none may)."""
        if count < 0:
            raise ValueError("times() takes a count of 0 or more")
        self.count = count
        return self

    def once(self) -> Expectation:
        """Exactly one matching request must come."""
        return self.times(1)

    def respond(self, *value: Any, json: Any = _ANY, status: Optional[int] = None) -> Expectation:
        """
        Answer the requests it takes with ``value``, any of wptserve's
        return forms (``"text"``, ``(headers, body)``, ``(status, headers,
        body)``), or with ``json=`` (sent as ``application/json``, with
        ``status=`` if given).
        """
        if json is not _ANY:
            if value:
                raise ValueError("respond() takes a return value or json=, not both")
            body = jsonModule.dumps(json)
            answer: Any = (status or 200, [("Content-Type", "application/json")], body)
        elif len(value) == 1:
            answer = value[0] if status is None else (status, [], value[0])
        elif value:
            answer = tuple(value)
        else:
            answer = (status or 200, [], b"")

        def main(request: Any, response: Any) -> Any:
            return answer

        main.__qualname__ = f"respond() of expect({self.match})"
        return self.respond_with(main)

    def respond_with(self, main: Callable[[Any, Any], Any]) -> Expectation:
        """Answer the requests it takes with the handler ``main(request, response)``."""
        self.answer = main
        return self

    def wanted(self) -> bool:
        """Whether it still wants requests (its count is not reached)."""
        return self.count is None or len(self.received) < self.count

    def problem(self) -> Optional[str]:
        """What is wrong with it at the end of a test, or None."""
        came = len(self.received)
        if self.count is None:
            if came == 0:
                return f"expected {self.match}: it never came"
            return None
        if came != self.count:
            return f"expected {_times(self.count)} {self.match}, received {_times(came)}"
        return None


class Expectations:
    """
    One server's expectations, in the order declared.  The reactor thread
    hands each request to :meth:`take`; the test declares, checks and
    resets in its own thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expectations: List[Expectation] = []
        self._strict = False
        self._unexpected: List[RecordedRequest] = []
        self._outOfOrder: List[Tuple[RecordedRequest, Expectation, Expectation]] = []

    def add(self, expectation: Expectation) -> Expectation:
        """Declare ``expectation``.  Test thread."""
        with self._lock:
            self._expectations.append(expectation)
        return expectation

    def expect_nothing_else(self) -> None:
        """From now on, a request no expectation takes fails the test.  Test thread."""
        with self._lock:
            self._strict = True

    def mayAnswer(self) -> bool:
        """Whether an expectation has an answer.  Any thread."""
        with self._lock:
            return any(expectation.answer is not None for expectation in self._expectations)

    def take(self, request: RecordedRequest) -> Optional[Callable[[Any, Any], Any]]:
        """
        Give ``request`` to the first expectation that matches it and still
        wants requests (else to the first that matches, which then counts
        one too many), note an ordered one taken before an earlier ordered
        one was met, or a request nobody expected; return the answer of the
        expectation that took it, if it has one.  Reactor thread.
        """
        with self._lock:
            matching = [expectation for expectation in self._expectations if expectation.match.matches(request)]
            if not matching:
                if self._strict:
                    self._unexpected.append(request)
                return None
            chosen = next((expectation for expectation in matching if expectation.wanted()), matching[0])
            if chosen.ordered:
                for earlier in self._expectations:
                    if earlier is chosen:
                        break
                    if earlier.ordered and earlier.wanted() and (earlier.count is not None or not earlier.received):
                        self._outOfOrder.append((request, chosen, earlier))
                        break
            chosen.received.append(request)
            return chosen.answer

    def problems(self, requests: Optional[RequestLog] = None) -> List[str]:
        """
        Everything not as expected, one line each; under an expectation
        that never came, how each request of ``requests`` differs from it.
        Test thread.
        """
        with self._lock:
            found = []
            for expectation in self._expectations:
                problem = expectation.problem()
                if problem is None:
                    continue
                if requests is not None and not expectation.received:
                    near = [f"    {_describe(r)}: {', '.join(expectation.match.mismatches(r))}" for r in requests]
                    if near:
                        problem += "; the requests differ:\n" + "\n".join(near)
                found.append(problem)
            for request, taken, earlier in self._outOfOrder:
                found.append(f"{_describe(request)} came for expect({taken.match}) before expect({earlier.match}) was met (ordered)")
            for request in self._unexpected:
                found.append(f"unexpected request {_describe(request)} (expect_nothing_else() was called)")
        return found

    def clear(self) -> None:
        """Forget every expectation and what they took.  Test thread."""
        with self._lock:
            self._expectations.clear()
            self._unexpected.clear()
            self._outOfOrder.clear()
            self._strict = False

