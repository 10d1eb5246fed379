"""The ZMTP 3.x wire protocol, sans-I/O: bytes in, events out, bytes to send buffered inside.

Nothing in this package touches sockets, threads or clocks; the stream engine in
:mod:`purezmq.io.engine` drives it, and the tests feed it bytes directly.
"""

import importlib
from typing import Any

# Loaded on first use: ``import purezmq`` needs only zmtp.errors/events/frames, not the
# connection state machine (import time).
_EXPORTS = {
    "HandshakeSucceeded": "purezmq.zmtp.events",
    "PeerErrorReceived": "purezmq.zmtp.events",
    "Subscription": "purezmq.zmtp.events",
    "ZapRequested": "purezmq.zmtp.events",
    "ZmtpConnection": "purezmq.zmtp.connection",
    "ZmtpError": "purezmq.zmtp.errors",
}

__all__ = [
    "HandshakeSucceeded",
    "PeerErrorReceived",
    "Subscription",
    "ZapRequested",
    "ZmtpConnection",
    "ZmtpError",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
