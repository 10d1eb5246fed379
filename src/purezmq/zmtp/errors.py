"""The one exception the sans-I/O protocol raises."""

from __future__ import annotations


class ZmtpError(Exception):
    """The connection cannot go on; the driver closes it and reports ``kind``.

    ``kind`` is ``"protocol"`` (the peer broke ZMTP), ``"auth"`` (credentials refused),
    ``"timeout"`` (handshake or heartbeat deadline passed) or ``"closed"`` (the peer said
    ERROR).  The driver should still send :meth:`ZmtpConnection.data_to_send` once before
    closing: it may hold an ERROR command for the peer.

    ``value`` is what a monitor event reports: the ZAP status code (300, 400, 500) of an
    ``"auth"`` failure, the errno of a ``"no-detail"`` one (no ZAP handler), else 0.
    """

    def __init__(self, reason: str, kind: str = "protocol", value: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.value = value
        self.events: list = []  # what was decoded before the failure
