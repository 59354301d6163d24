"""
``wptserve.constants`` for handlers: status reasons, the extension to
content type table, and the HTTP/2 pseudo-header names, in wptserve's shape.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

from twisted_pyhandlers._contenttypes import WPTSERVE_TYPES
from twisted_pyhandlers._reasons import REASONS

__all__ = ["response_codes"]

#: ``{code: (reason, description)}`` as wptserve has it; the descriptions
#: are not used by any handler we know of, so they repeat the reason.
response_codes: Dict[int, Tuple[str, str]] = {code: (reason, reason) for code, reason in REASONS.items()}

#: wptserve's ``content_types``: extension (no dot) to content type.
content_types: Dict[str, str] = dict(WPTSERVE_TYPES)

#: The HTTP/2 pseudo-header names without their colon.
h2_headers: List[str] = ["method", "scheme", "host", "path", "authority", "status"]

__all__ = ["content_types", "h2_headers", "response_codes"]
