"""
Compatibility modules for handler files written for other servers.

:mod:`twisted_pyhandlers.compat.wptserve` is imported by handlers as
``wptserve`` when no real wptserve is installed (see
:mod:`twisted_pyhandlers._script`).
"""

__all__: list[str] = []
