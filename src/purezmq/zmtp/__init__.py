"""The ZMTP 3.x wire protocol, sans-I/O: bytes in, events out, bytes to send buffered inside.

Nothing in this package touches sockets, threads or clocks; the stream engine in
:mod:`purezmq.io.engine` drives it, and the tests feed it bytes directly.
"""

from purezmq.zmtp.connection import ZmtpConnection, ZmtpError
from purezmq.zmtp.events import HandshakeSucceeded, PeerErrorReceived, Subscription, ZapRequested

__all__ = [
    "HandshakeSucceeded",
    "PeerErrorReceived",
    "Subscription",
    "ZapRequested",
    "ZmtpConnection",
    "ZmtpError",
]
