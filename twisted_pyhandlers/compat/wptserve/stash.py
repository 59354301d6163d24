"""
``wptserve.stash`` for handlers: the stash type and its error.

wptserve's ``multiprocessing`` machinery (``StashServer``,
``load_env_config`` ...) is not here: see ``docs/differences/surface.rst``.
"""

from twisted_pyhandlers._encoding import isomorphic_encode
from twisted_pyhandlers.stash import Stash, StashError

__all__ = ["Stash", "StashError", "isomorphic_encode"]
