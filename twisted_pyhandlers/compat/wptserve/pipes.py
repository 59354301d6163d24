"""``wptserve.pipes`` for handlers: the template engine and pipeline."""

from twisted_pyhandlers.pipes import Pipeline, wrap_pipeline
from twisted_pyhandlers.templates import template

__all__ = ["Pipeline", "template", "wrap_pipeline"]
