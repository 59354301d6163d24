"""
The access log: one Combined Log Format line per request, written once.

Twisted's ``Site`` writes a request's line from ``Request.finish``, so a
request whose client went away before it finished never got one, and a
response written by our own response output (not by ``Request.write``) had its
status line and headers counted as body bytes.  Here:

- :func:`combinedLogFormatter` formats the line as Apache's ``combined``
  format (``%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"``: the
  host is not quoted, ``%b`` is the body's bytes, ``-`` for none);
  :func:`verboseLogFormatter` adds the handler's run time;
- Twisted's ``Request.finish`` writes the line of a request that finished;
  :func:`logUnfinished` writes the line of one whose client went away:
  :class:`~twisted_pyhandlers._output.ResponseOutput` calls it when a
  handler run ends (whenever the client left), and
  :class:`~twisted_pyhandlers._h11protocol.HandlerRequest` when its connection is
  lost before it finished and no handler run answers it (a plain static
  file).  :meth:`HandlerSite.log <twisted_pyhandlers.site.HandlerSite.log>`
  writes at most one line per request (``HandlerRequest.accessLogged``).

The figures a line shows are set on the Twisted request by whoever wrote
the response: ``code``, ``sentLength`` (body bytes only) and, for a handler
run, ``handlerRunTime`` (seconds from the start of the run to its end).

Everything here runs on the reactor thread.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet import address
from twisted.web.http import _XForwardedForAddress

from twisted_pyhandlers._interfaces import IHandlerRequest


def _escape(value: Any) -> str:
    """
    ``value`` (bytes as ISO-8859-1, or text) for a quoted log field:
    backslash, double quote and control characters escaped, so a line is
    always one line.
    """
    if isinstance(value, bytes):
        value = value.decode("iso-8859-1")
    text = str(value)
    out = []
    for character in text:
        if character == "\\" or character == '"':
            out.append("\\" + character)
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            out.append(f"\\x{ord(character):02x}")
        else:
            out.append(character)
    return "".join(out)


def _host(request: Any) -> str:
    """The client's IP address, or ``-`` (a UNIX socket, an unknown peer)."""
    client = request.getClientAddress()
    if isinstance(client, (address.IPv4Address, address.IPv6Address, _XForwardedForAddress)):
        return _escape(client.host)
    return "-"


def combinedLogFormatter(timestamp: str, request: Any) -> str:
    """
    The Combined Log Format line of ``request`` (no line end).

    :param timestamp: ``[dd/Mon/yyyy:HH:MM:SS +0000]``, as the ``Site``
        keeps it.
    """
    referrer = _escape(request.getHeader(b"referer") or b"-")
    agent = _escape(request.getHeader(b"user-agent") or b"-")
    length = request.sentLength or "-"
    return (
        f'{_host(request)} - - {timestamp} '
        f'"{_escape(request.method)} {_escape(request.uri)} {_escape(request.clientproto)}" '
        f'{request.code} {length} "{referrer}" "{agent}"'
    )


def verboseLogFormatter(timestamp: str, request: Any) -> str:
    """
    :func:`combinedLogFormatter`'s line followed by the handler's run time
    in milliseconds (``12.345ms``), or ``-`` when no handler ran (a plain
    static file Twisted served).
    """
    runTime: Optional[float] = request.handlerRunTime if IHandlerRequest.providedBy(request) else None
    suffix = "-" if runTime is None else f"{runTime * 1000:.3f}ms"
    return f"{combinedLogFormatter(timestamp, request)} {suffix}"


def logUnfinished(request: Any) -> None:
    """
    Write the access log line of ``request``, which will never finish (its
    client went away), through its site: Twisted's ``Request.finish``, which
    writes the line of every other request, is not called for it.  Nothing
    for a request that did finish, or that never reached a site.
    """
    if request.finished or request.site is None:
        return
    request.site.log(request)
