"""
The check of received HTTP/2 header blocks (:mod:`twisted_pyhandlers._h2validation`)
against h2's own: the ``h2`` port turns h2's inbound checks off and makes
the same ones in one pass, so the two must refuse exactly the same blocks.
Hypothesis generates blocks, most of them a valid request or trailers with
a few fields changed, and both checks judge each.  Then, over a real TLS
socket to a real ``twistd pyhandlers`` h2 port, a refused block ends the
connection with ``GOAWAY PROTOCOL_ERROR`` as h2 ends it, while the
connections of other clients go on being served.
"""

from __future__ import annotations

from typing import Iterator, List, Tuple

import pytest
from h2.errors import ErrorCodes
from h2.exceptions import ProtocolError
from h2.utilities import HeaderValidationFlags, normalize_outbound_headers, validate_headers, validate_outbound_headers
from h2client import FrameClient, statusOf
from hyperframe.frame import GoAwayFrame, HeadersFrame
from hypothesis import given, settings
from hypothesis import strategies as st
from serving import HELLO, h2Process
from test_tls import Server

from twisted_pyhandlers._h2validation import checkReceivedHeaders, isPlainResponse

Block = List[Tuple[bytes, bytes]]

NAMES = [
    b":method", b":scheme", b":path", b":authority", b":protocol", b":status", b":other", b":",
    b"", b"host", b"te", b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
    b"upgrade", b"x-a", b"accept", b"cookie", b"X-Upper", b"a:b", b"a b", b"a\x7f", b"\xc3\xa9", b"@[~",
]
VALUES = [
    b"GET", b"POST", b"CONNECT", b"https", b"websocket", b"/", b"/a?b", b"", b"trailers", b"TRAILERS",
    b"gzip", b"localhost", b"example.com", b" x", b"x ", b"\tx", b"x\t", b"a\nb", b"a\rb", b"a\x00b", b"a b",
]

names = st.one_of(st.sampled_from(NAMES), st.binary(max_size=5))
values = st.one_of(st.sampled_from(VALUES), st.binary(max_size=5))
fields = st.tuples(names, values)


@st.composite
def blocks(draw: st.DrawFn) -> Block:
    """A valid request or trailers block with a few changes, or any list of fields."""
    if draw(st.booleans()):
        return draw(st.lists(fields, max_size=8))
    block: Block = [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/x"), (b":authority", b"localhost")]
    if draw(st.booleans()):
        block = [(b"x-trailer", b"1")]
    block += draw(st.lists(fields, max_size=2))
    for _ in range(draw(st.integers(0, 2))):
        if not block:
            break
        index = draw(st.integers(0, len(block) - 1))
        action = draw(st.sampled_from(["replace", "delete", "swap", "duplicate"]))
        if action == "replace":
            block[index] = draw(fields)
        elif action == "delete":
            del block[index]
        elif action == "swap":
            other = draw(st.integers(0, len(block) - 1))
            block[index], block[other] = block[other], block[index]
        else:
            block.insert(index, block[index])
    return block


def h2Refuses(block: Block, trailers: bool) -> bool:
    flags = HeaderValidationFlags(is_client=False, is_trailer=trailers, is_response_header=False, is_push_promise=False)
    try:
        list(validate_headers(block, flags))
    except ProtocolError:
        return True
    return False


def oursRefuses(block: Block, trailers: bool) -> bool:
    try:
        checkReceivedHeaders(block, trailers=trailers)
    except ProtocolError:
        return True
    return False


@settings(max_examples=3000, deadline=None)
@given(blocks(), st.booleans())
def test_sameVerdictAsH2(block: Block, trailers: bool) -> None:
    """Every generated block is refused by our check exactly when h2's refuses it."""
    assert oursRefuses(block, trailers) == h2Refuses(block, trailers), block


RESPONSE_NAMES = [b":status", b":path", b"content-type", b"Content-Type", b"te", b"cookie", b"authorization", b"connection", b" x", b"x-a", b""]
responseFields = st.tuples(st.one_of(st.sampled_from(RESPONSE_NAMES), st.binary(max_size=4)), values)


@settings(max_examples=3000, deadline=None)
@given(st.lists(responseFields, max_size=6), st.booleans())
def test_plainResponsePassesH2Unchanged(fields: Block, withStatus: bool) -> None:
    """
    Whatever :func:`isPlainResponse` calls plain, h2's normalisation and
    checks of outgoing response fields pass unchanged (same names, values,
    order, and no field made never-indexed), so skipping them changes
    nothing on the wire.
    """
    if withStatus:
        fields = [(b":status", b"200")] + fields
    if not isPlainResponse(fields):
        return
    flags = HeaderValidationFlags(is_client=False, is_trailer=False, is_response_header=True, is_push_promise=False)
    passed = list(validate_outbound_headers(normalize_outbound_headers(fields, flags), flags))
    assert passed == fields
    assert all(type(field) is tuple for field in passed)


def test_writerFieldsArePlain() -> None:
    """The fields of an ordinary response, as the writer makes them, are plain: the fast path is the usual one."""
    assert isPlainResponse([(b":status", b"200"), (b"content-type", b"text/plain"), (b"server", b"x"), (b"content-length", b"5")])
    assert not isPlainResponse([(b":status", b"200"), (b"set-cookie", b"a=b"), (b"cookie", b"a")])
    assert not isPlainResponse([(b":status", b"200"), (b"x-a", b" padded ")])


@pytest.mark.parametrize(
    "block",
    [
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a")],
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"), (b"host", b"a")],
        [(b":method", b"CONNECT"), (b":authority", b"a:443")],
        [(b":method", b"CONNECT"), (b":protocol", b"websocket"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a")],
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a"), (b"te", b"Trailers")],
    ],
)
def test_validRequestsPass(block: Block) -> None:
    """Ordinary requests, ordinary and extended CONNECT, and ``TE: trailers`` pass both checks."""
    assert not oursRefuses(block, False)
    assert not h2Refuses(block, False)


@pytest.mark.parametrize(
    "block",
    [
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a"), (b"X-Upper", b"1")],
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b""), (b":authority", b"a")],
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/")],
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a"), (b"host", b"b")],
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a"), (b"connection", b"close")],
        [(b":method", b"GET"), (b"x-a", b"1"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a")],
        [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a"), (b"x-a", b"b\nc")],
        [(b":method", b"CONNECT"), (b":path", b"/"), (b":authority", b"a")],
        [(b":method", b"GET"), (b":protocol", b"websocket"), (b":scheme", b"https"), (b":path", b"/"), (b":authority", b"a")],
    ],
)
def test_invalidRequestsRefused(block: Block) -> None:
    """Upper case, an empty :path, no authority, a mismatched Host, a connection header, misplaced pseudo-headers, CR/LF in a value, CONNECT with :path, :protocol without CONNECT: both refuse."""
    assert oursRefuses(block, False)
    assert h2Refuses(block, False)


# -- over a socket -------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A twistd process with an h2 port."""
    with h2Process(tmp_path_factory.mktemp("h2validation"), HELLO) as process:
        yield process


def sendRawHeaders(client: FrameClient, block: Block) -> int:
    """A HEADERS frame of ``block`` (HPACK-encoded by the client's encoder), past the client's own checks."""
    streamID = client.conn.get_next_available_stream_id()
    client.conn.highest_outbound_stream_id = streamID
    frame = HeadersFrame(streamID, data=client.conn.encoder.encode(block), flags=["END_HEADERS", "END_STREAM"])
    client.sock.sendall(frame.serialize())
    return streamID


def test_refusedBlockEndsTheConnection(server: Server) -> None:
    """
    A request whose header block h2 would refuse (an upper-case name) gets
    ``GOAWAY PROTOCOL_ERROR`` and the connection closes, with no response;
    a valid request on another connection is answered.
    """
    port = server.ports("h2")[0]
    bad = FrameClient(port)
    try:
        sendRawHeaders(bad, [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/hello.py"), (b":authority", b"localhost"), (b"X-Upper", b"1")])
        frames = []
        try:
            while True:
                frames.append(bad.frame())
        except (EOFError, ConnectionError):
            pass
        goaways = [frame for frame in frames if isinstance(frame, GoAwayFrame)]
        assert [frame.error_code for frame in goaways] == [ErrorCodes.PROTOCOL_ERROR]
        assert not [frame for frame in frames if isinstance(frame, HeadersFrame)]
    finally:
        bad.close()
    good = FrameClient(port)
    try:
        headers, body, _ = good.response(good.request("/hello.py"))
        assert (statusOf(headers), body) == (200, b"hello")
    finally:
        good.close()


def test_validRawBlockIsServed(server: Server) -> None:
    """The same raw path with a valid block (the control for the test above) is answered 200."""
    client = FrameClient(server.ports("h2")[0])
    try:
        streamID = sendRawHeaders(client, [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/hello.py"), (b":authority", b"localhost"), (b"x-lower", b"1")])
        headers, body, _ = client.response(streamID)
        assert (statusOf(headers), body) == (200, b"hello")
    finally:
        client.close()
