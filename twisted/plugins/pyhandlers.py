"""twistd plugin: ``twistd -n pyhandlers --root DIR``."""

from twisted.application.service import ServiceMaker

pyhandlers = ServiceMaker(
    "twisted_pyhandlers",
    "twisted_pyhandlers.tap",
    "Serve wptserve-style Python handler files (and static files) from a document root.",
    "pyhandlers",
)
