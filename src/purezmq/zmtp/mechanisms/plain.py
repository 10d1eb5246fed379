"""The PLAIN mechanism (RFC 24): a username and password in clear text, checked by ZAP.

Theory of operation::

    client                          server
    HELLO(username, password)  ->   (ZAP request when a ZAP domain is set; wait)
                               <-   WELCOME
    INITIATE(metadata)         ->
                               <-   READY(metadata)

Without ZAP the server accepts anyone, as the design asks; libzmq 4.3 instead drops a PLAIN
client when no ZAP handler is running (a driver wanting that parity refuses before it
builds this mechanism).  The ZAP verdict follows libzmq (``zap_client_common_handshake_t``):
200 goes on, 300 (temporary failure) drops the connection silently, 400 and 500 send ERROR
whose reason is the bare status code, which libzmq peers turn into
``EVENT_HANDSHAKE_FAILED_AUTH`` with that value.  Any other status is a protocol error with
no ERROR for the peer.

Beware: libzmq's own PLAIN code spells its ERROR prefix ``"\\x05ERROR"`` in C, where the hex
escape swallows the ``E``; it sends and expects ``^RROR`` (no length byte), so a libzmq
PLAIN client reports our RFC-correct ERROR as a protocol error rather than an auth one.
"""

from __future__ import annotations

from purezmq.zmtp.errors import ZmtpError
from purezmq.zmtp.mechanisms.base import Command, Mechanism, check_zap_status
from purezmq.zmtp.metadata import decode_metadata, encode_metadata

__all__ = ["PlainMechanism", "check_zap_status"]

# Handshake states.
_CLIENT_START, _EXPECT_WELCOME, _EXPECT_READY = "client-start", "expect-welcome", "expect-ready"
_EXPECT_HELLO, _WAIT_ZAP, _EXPECT_INITIATE = "expect-hello", "wait-zap", "expect-initiate"
_DONE, _FAILED = "done", "failed"


class PlainMechanism(Mechanism):
    """Clear-text credentials; worth using only on trusted networks or inside a tunnel."""

    name = b"PLAIN"

    def __init__(
        self,
        as_server: bool = False,
        zap_enabled: bool = False,
        username: bytes = b"",
        password: bytes = b"",
    ) -> None:
        super().__init__(as_server=as_server, zap_enabled=zap_enabled)
        username = bytes(username)
        password = bytes(password)
        if len(username) > 255 or len(password) > 255:
            # The wire gives each a one-octet length; libzmq refuses longer options too.
            raise ValueError("PLAIN username and password are limited to 255 bytes")
        self.username = username
        self.password = password
        self._state = _EXPECT_HELLO if as_server else _CLIENT_START

    # -- handshake ---------------------------------------------------------------------
    def start(self) -> list[Command]:
        if self.as_server:
            return []
        if self._state != _CLIENT_START:
            raise ZmtpError("PLAIN handshake already started", kind="protocol")
        self._state = _EXPECT_WELCOME
        u, p = self.username, self.password
        return [(b"HELLO", bytes((len(u),)) + u + bytes((len(p),)) + p)]

    def on_command(self, name: bytes, data: bytes) -> list[Command]:
        try:
            return self._dispatch(bytes(name), bytes(data))
        except ZmtpError:
            self._state = _FAILED
            raise

    def _dispatch(self, name: bytes, data: bytes) -> list[Command]:
        state = self._state
        if name == b"ERROR" and state in (_EXPECT_WELCOME, _EXPECT_READY):
            raise ZmtpError("peer refused the handshake", kind="auth")
        if state == _EXPECT_HELLO and name == b"HELLO":
            return self._on_hello(data)
        if state == _EXPECT_INITIATE and name == b"INITIATE":
            self.peer_properties = decode_metadata(data)
            self._finish()
            return [(b"READY", encode_metadata(self.metadata))]
        if state == _EXPECT_WELCOME and name == b"WELCOME":
            if data:
                raise ZmtpError("malformed PLAIN WELCOME", kind="protocol")
            self._state = _EXPECT_READY
            return [(b"INITIATE", encode_metadata(self.metadata))]
        if state == _EXPECT_READY and name == b"READY":
            self.peer_properties = decode_metadata(data)
            self._finish()
            return []
        raise ZmtpError(
            f"unexpected command {name!r} in PLAIN handshake ({state})", kind="protocol"
        )

    def _on_hello(self, data: bytes) -> list[Command]:
        end = len(data)
        if end < 1 or 1 + data[0] >= end:
            raise ZmtpError("malformed PLAIN HELLO (username)", kind="protocol")
        ulen = data[0]
        username = data[1 : 1 + ulen]
        plen = data[1 + ulen]
        if 2 + ulen + plen != end:
            raise ZmtpError("malformed PLAIN HELLO (password)", kind="protocol")
        password = data[2 + ulen :]
        if self.zap_enabled:
            self._state = _WAIT_ZAP
            self.zap_credentials = [username, password]
            return []
        self._state = _EXPECT_INITIATE
        return [(b"WELCOME", b"")]

    def on_zap_reply(
        self, status_code: bytes, status_text: bytes, user_id: bytes, metadata: dict[str, bytes]
    ) -> list[Command]:
        if self._state != _WAIT_ZAP:
            raise ZmtpError("unexpected ZAP reply", kind="protocol")
        self.zap_credentials = None
        self._state = _FAILED
        check_zap_status(self, status_code, status_text)
        self.user_id = bytes(user_id)
        self.zap_properties = dict(metadata)
        self._state = _EXPECT_INITIATE
        return [(b"WELCOME", b"")]

    def _finish(self) -> None:
        self._state = _DONE
        self.ready = True
