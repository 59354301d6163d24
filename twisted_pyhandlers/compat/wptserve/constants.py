"""``wptserve.constants`` for handlers: status reasons in wptserve's shape."""

from __future__ import annotations

from typing import Dict, Tuple

from twisted_pyhandlers._reasons import REASONS

__all__ = ["response_codes"]

#: ``{code: (reason, description)}`` as wptserve has it; the descriptions
#: are not used by any handler we know of, so they repeat the reason.
response_codes: Dict[int, Tuple[str, str]] = {code: (reason, reason) for code, reason in REASONS.items()}
