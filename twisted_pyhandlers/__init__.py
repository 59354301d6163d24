"""
twisted_pyhandlers: wptserve-style Python file handlers on twisted.web.

The public surface is small on purpose:

- :class:`HandlerDirectory`, the :class:`twisted.web.resource.Resource` that
  serves a document root (``*.py`` files run as handlers, everything else is
  static);
- :class:`HandlerSite`, the :class:`twisted.web.server.Site` to serve it
  with (request header names as sent, bodies left to handlers);
- :class:`HTTPException`, which a handler raises to answer with a status.
"""

from twisted_pyhandlers._errors import HTTPException
from twisted_pyhandlers.resource import HandlerDirectory
from twisted_pyhandlers.site import HandlerSite

__all__ = ["HandlerDirectory", "HandlerSite", "HTTPException"]
__version__ = "0.1.0"
