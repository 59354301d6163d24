"""``wptserve.pipes`` for handlers: the template engine and pipeline."""

from twisted_pyhandlers._pipes import Pipeline, wrap_pipeline
from twisted_pyhandlers._templates import template

__all__ = ["Pipeline", "template", "wrap_pipeline"]
