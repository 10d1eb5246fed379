"""pyzmq's ``zmq.sugar.context``: the context class (implemented in
:mod:`purezmq.core.context`)."""

from __future__ import annotations

from purezmq.core.context import Context
from purezmq.sugar.socket import SyncSocket

# pyzmq: the blocking context, making blocking sockets
SyncContext = Context[SyncSocket]

__all__ = ["Context", "SyncContext"]
