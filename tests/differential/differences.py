"""
Every difference from wptserve 4.0.3 that the differential suite allows, with
its reason.

Each one is named in ``docs/differences/handlers.rst`` (a test checks), and
a case may only use one that actually occurs there.
"""

from __future__ import annotations

from .harness import KnownDifference

#: The seed's "Dynamic HTTP headers" example looks up a str key
#: (``request.GET.first('content-type')``); wptserve's MultiDict keys are
#: bytes, so it answers 500 KeyError.  SPEC section 4 ("beyond") makes str
#: keys work, so ours answers 200.  Checked by a dedicated test rather than
#: through ``compare``.
SEED_STR_KEY = KnownDifference(
    id="seed-str-key",
    field="status-line",
    reason="str keys work in request.GET (SPEC 4, beyond); wptserve gives a 500 KeyError",
)

ALL: dict[str, KnownDifference] = {d.id: d for d in [SEED_STR_KEY]}
