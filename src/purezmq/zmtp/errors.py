"""The one exception the sans-I/O protocol raises."""

from __future__ import annotations


class ZmtpError(Exception):
    """The connection cannot go on; the driver closes it and reports ``kind``.

    ``kind`` is ``"protocol"`` (the peer broke ZMTP), ``"auth"`` (credentials refused),
    ``"timeout"`` (handshake or heartbeat deadline passed) or ``"closed"`` (the peer said
    ERROR).  The driver should still send :meth:`ZmtpConnection.data_to_send` once before
    closing: it may hold an ERROR command for the peer.
    """

    def __init__(self, reason: str, kind: str = "protocol") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
