"""
``wptserve.pipes`` for handlers: the pipe functions, the template engine and
the pipeline.

As in wptserve, ``status``, ``header``, ``slice``, ``trickle``, ``sub`` and
``gzip`` are the plain functions (the ``@pipe`` decorator registers an
argument-converting copy under the pipe's name and hands back the function
itself), so a handler calls them with Python values, exactly as wptserve's
handlers do::

    from wptserve import pipes

    def main(request, response):
        response.content = open(path).read()
        pipes.sub(request, response)              # "{{host}}" and the rest
        pipes.status(request, response, 404)
        pipes.header(request, response, "X-A", "1", True)   # append
        pipes.slice(request, response, 0, 10)

Each has the same effect as the same pipe named in ``?pipe=``.
"""

from twisted_pyhandlers._pipes import (
    Pipeline,
    PipeTokenizer,
    boolean,
    gzip,
    header,
    nullable,
    opt,
    pipe,
    resolve_content,
    slice,
    status,
    sub,
    trickle,
    wrap_pipeline,
)
from twisted_pyhandlers._templates import template

__all__ = [
    "PipeTokenizer",
    "Pipeline",
    "boolean",
    "gzip",
    "header",
    "nullable",
    "opt",
    "pipe",
    "resolve_content",
    "slice",
    "status",
    "sub",
    "template",
    "trickle",
    "wrap_pipeline",
]
