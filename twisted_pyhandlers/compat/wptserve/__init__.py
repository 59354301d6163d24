"""
The ``wptserve`` names that real handler files import, so they run
unchanged on twisted_pyhandlers with no wptserve installed.

Only the handler-facing modules exist here (``utils``, ``handlers``,
``constants``, ``stash``, ``pipes``); wptserve's own server, router and
config machinery are replaced by twisted_pyhandlers itself.
"""

__all__: list[str] = []
