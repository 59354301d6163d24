"""``wptserve.logger`` for handlers: the logger wptserve's code logs to."""

from __future__ import annotations

import logging


def get_logger() -> logging.Logger:
    """
    The standard library's root logger, as in wptserve.  Under ``twistd``
    its records go wherever :mod:`logging` is configured to send them (by
    default, warnings and worse to stderr); they are not Twisted log events.
    """
    return logging.getLogger()


__all__ = ["get_logger"]
