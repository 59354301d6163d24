"""
What every request under one :class:`~twisted_pyhandlers.HandlerDirectory`
shares: the document root, the reactor and thread pool that run handlers, the
stash, the server config, the compiled-code cache and the reactor mailbox.

It is one small immutable record so that the resource tree, the handler
leaves, the request objects and the static side can be handed the same
dependencies without any of them importing a global.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import CodeType
from typing import TYPE_CHECKING, Optional, Protocol, Tuple

from twisted.internet.interfaces import IReactorCore, IReactorThreads, IReactorTime
from twisted.python.filepath import FilePath

if TYPE_CHECKING:
    from twisted_pyhandlers._output import ReactorMailbox
    from twisted_pyhandlers._threads import CallRunner
    from twisted_pyhandlers.config import ServerConfig
    from twisted_pyhandlers.stash import StashStore


class CompiledCode(Protocol):
    """
    Compiled handler code, by file: what the context promises of its
    :class:`~twisted_pyhandlers._script.CodeCache`.  Handler threads.
    """

    def get(self, path: str, signature: Optional[Tuple[int, int]] = None) -> CodeType:
        """The compiled code of the file at ``path``, compiled again if it changed."""


class HandlerReactor(IReactorCore, IReactorThreads, IReactorTime):
    """
    The reactor features handler code needs: running calls from threads,
    timed calls (trickle pipes) and shutdown triggers.
    """


@dataclass(frozen=True)
class HandlerContext:
    """
    Dependencies shared by all requests under one handler root.

    :ivar root: The document root, already resolved (symlinks followed), so
        that containment checks compare real paths.
    :ivar reactor: The reactor that owns every transport; handler threads
        reach it only through ``callFromThread`` / ``blockingCallFromThread``.
    :ivar threadpool: Runs ``main(request, response)`` off the reactor thread.
    :ivar stashStore: The store behind ``request.server.stash``, shared by
        every request (and, for Redis, every process) that uses it.
    :ivar config: What ``request.server.config`` and ``.sub.`` templates see.
    :ivar codeCache: Compiled handler code keyed by (path, mtime, size).
    :ivar mailbox: How handler threads hand bytes to the reactor, shared by
        every response of the tree so that those finishing together share
        one wake-up of the reactor.
    :ivar handlerTimeout: Seconds a handler may run before it is given up
        on (504, its thread replaced); None for no limit.
    """

    root: FilePath[str]
    reactor: HandlerReactor
    threadpool: CallRunner
    stashStore: StashStore
    config: ServerConfig
    codeCache: CompiledCode
    mailbox: ReactorMailbox
    handlerTimeout: Optional[float] = None
