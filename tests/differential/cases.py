"""
The shape of one differential case, shared by the handler and writer suites.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from .harness import EXACT, Harness, KnownDifference, request


@dataclass(frozen=True)
class Case:
    """
    One request sent to both servers.

    :ivar id: The pytest id.
    :ivar doc: The behaviour the case pins (shown when it fails).
    :ivar path: Request target.
    :ivar expectCode: The status wptserve answers with: a check that the
        handler file does what the case means before ours is compared.
    :ivar known: Differences we keep on purpose (documented).
    :ivar normalise: Rewrites values that legitimately differ; say why in
        ``doc``.
    """

    id: str
    doc: str
    path: str
    expectCode: int | None
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    bodyMode: str = EXACT
    mustContain: tuple[str, ...] = ()
    readToClose: bool = False
    host: bytes | None = b"web-platform.test:8000"
    known: tuple[KnownDifference, ...] = ()
    normalise: Callable[[bytes], bytes] | None = None

    def param(self) -> object:
        return pytest.param(self, id=self.id)


def checkWptserve(baseURL: str, case: Case) -> None:
    """
    Send ``case`` to wptserve alone and check its status code.

    Runs in the pytest thread and blocks.
    """
    host, port = baseURL.rsplit("//", 1)[1].split(":")
    response = request(
        (host, int(port)),
        case.path,
        case.method,
        list(case.headers),
        case.body,
        host=case.host,
        readToClose=case.readToClose,
    )
    assert response.code == case.expectCode, (
        f"{case.id}: {case.doc}\nwptserve answered {response.statusLine!r}, "
        f"expected {case.expectCode}: {response.raw[:1500]!r}"
    )


def checkSame(harness: Harness, case: Case) -> None:
    """
    Send ``case`` to both servers; fail with a readable report on any
    difference the case does not list.

    Runs in the pytest thread and blocks.
    """
    comparison = harness.compare(
        case.path,
        case.method,
        list(case.headers),
        case.body,
        knownDifferences=case.known,
        bodyMode=case.bodyMode,
        mustContain=case.mustContain,
        readToClose=case.readToClose,
        host=case.host,
        normalise=case.normalise,
    )
    if comparison.problems:
        raise AssertionError(f"{case.id}: {case.doc}\n" + comparison.report())


def regexNormaliser(*pairs: tuple[bytes, bytes]) -> Callable[[bytes], bytes]:
    """
    A normaliser applying each ``(pattern, replacement)`` in turn.
    """
    compiled = [(re.compile(p), r) for (p, r) in pairs]

    def normalise(data: bytes) -> bytes:
        for pattern, replacement in compiled:
            data = pattern.sub(replacement, data)
        return data

    return normalise
