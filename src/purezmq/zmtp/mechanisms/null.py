"""The NULL mechanism (RFC 37): both sides send READY with their metadata."""

from __future__ import annotations

from purezmq.zmtp.errors import ZmtpError
from purezmq.zmtp.mechanisms.base import Command, Mechanism
from purezmq.zmtp.metadata import decode_metadata, encode_metadata


class NullMechanism(Mechanism):
    """No security; with a ZAP domain on the server, ZAP may still refuse the peer."""

    name = b"NULL"

    def __init__(self, *, as_server: bool = False, zap_enabled: bool = False) -> None:
        super().__init__(as_server=as_server, zap_enabled=zap_enabled)
        self._sent_ready = False
        self._got_ready = False
        self._zap_done = not (as_server and zap_enabled)

    def start(self) -> list[Command]:
        if self._zap_done:
            self._sent_ready = True
            return [(b"READY", encode_metadata(self.metadata))]
        # Ask ZAP first; READY goes out only when it says yes.
        self.zap_credentials = []
        return []

    def on_command(self, name: bytes, data: bytes) -> list[Command]:
        if name == b"READY" and not self._got_ready:
            self.peer_properties = decode_metadata(data)
            self._got_ready = True
            self._update()
            return []
        if name == b"ERROR":
            raise ZmtpError("peer refused the handshake", kind="auth")
        raise ZmtpError(f"unexpected command {name!r} in NULL handshake", kind="protocol")

    def on_zap_reply(self, status_code, status_text, user_id, metadata) -> list[Command]:
        if self._zap_done:
            raise ZmtpError("unexpected ZAP reply", kind="protocol")
        self.zap_credentials = None
        if status_code != b"200":
            self.zap_refused(status_code, status_text)
        self._zap_done = True
        self.user_id = user_id
        self.zap_properties = metadata
        self._sent_ready = True
        self._update()
        return [(b"READY", encode_metadata(self.metadata))]

    def _update(self) -> None:
        self.ready = self._got_ready and self._sent_ready and self._zap_done
