"""``wptserve.stash`` for handlers: the stash error type."""

from twisted_pyhandlers.stash import Stash, StashError

__all__ = ["Stash", "StashError"]
