"""The CURVE mechanism (RFC 25 over CurveZMQ, RFC 26), with PyNaCl doing the cryptography.

Theory of operation.  Each side has a permanent key pair (C/c for the client, S/s for the
server) and makes a transient pair per connection (C'/c', S'/s').  ``Box[X](A->B)`` is
NaCl's ``crypto_box`` of X from A's secret key to B's public key; every nonce is a
16-byte ASCII prefix plus an 8-byte counter ("short nonce") or an 8-byte prefix plus 16
random bytes ("long nonce")::

    client                                           server
    HELLO    1.0, 72 zeros, C', n, Box[64 zeros](C'->S)      ->
                 <-  WELCOME  ln, Box[S' + cookie](S->C')
                      cookie = ln, SecretBox[C' + s'](K), K fresh per WELCOME
    INITIATE cookie, n, Box[C + vouch + metadata](C'->S')   ->
                      vouch = ln, Box[C' + S](C->S')
                 (ZAP request with C when a ZAP domain is set; wait)
                 <-  READY    n, Box[metadata](S'->C')
    MESSAGE  n, Box[flags + frame](C'->S' / S'->C')       <->

The prefixes, sizes and the MESSAGE flag byte (bit 0 MORE, bit 1 COMMAND) are libzmq's,
so the two interoperate.  Short nonces count up from 1 on each side and a received one
must be strictly greater than the last one (HELLO then INITIATE on the server, READY on
the client, then every MESSAGE): a replayed or reordered command is a protocol error.  After
READY the connection pushes every frame through :meth:`encrypt` / :meth:`decrypt` with a
key precomputed once (``crypto_box_beforenm``).  Failures of the cryptography are
protocol errors, as libzmq reports them (``ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC``).
"""

from __future__ import annotations

import functools
import hmac
import os
import struct

from purezmq.utils import z85
from purezmq.zmtp.errors import ZmtpError
from purezmq.zmtp.frames import COMMAND, MORE
from purezmq.zmtp.mechanisms.base import Command, Mechanism, check_zap_status
from purezmq.zmtp.mechanisms.sodium import Box
from purezmq.zmtp.metadata import decode_metadata, encode_metadata

try:  # PyNaCl is the optional extra ``purezmq[curve]``.
    from nacl import bindings as _nacl
    from nacl.exceptions import CryptoError as _CryptoError
except ImportError:  # pragma: no cover - exercised only without PyNaCl
    _nacl = None  # type: ignore[assignment]

    class _CryptoError(Exception):  # type: ignore[no-redef]
        """Placeholder so ``except`` clauses stay valid without PyNaCl."""


__all__ = ["CurveMechanism", "curve_keypair", "curve_public", "has_curve"]

_NEED_NACL = "CURVE security needs PyNaCl; install it with: pip install 'purezmq[curve]'"

_Q = struct.Struct(">Q")
_MAX_NONCE = (1 << 64) - 1

_HELLO_NONCE = b"CurveZMQHELLO---"
_INITIATE_NONCE = b"CurveZMQINITIATE"
_READY_NONCE = b"CurveZMQREADY---"
_MESSAGE_C = b"CurveZMQMESSAGEC"  # client -> server
_MESSAGE_S = b"CurveZMQMESSAGES"  # server -> client
_WELCOME_NONCE = b"WELCOME-"
_COOKIE_NONCE = b"COOKIE--"
_VOUCH_NONCE = b"VOUCH---"

_MAC = 16  # crypto_box / crypto_secretbox authenticator size
_HELLO_SIZE = 194  # 200 octets less the "\x05HELLO" name
_WELCOME_SIZE = 160  # 168 less "\x07WELCOME"
_INITIATE_MIN = 248  # 257 less "\x08INITIATE"
_READY_MIN = 8 + _MAC  # 30 less "\x05READY"
_MESSAGE_MIN = 8 + _MAC + 1  # 33 less "\x07MESSAGE"
_ZERO64 = bytes(64)
_VERSION = b"\x01\x00"
_PADDING = bytes(72)

# MESSAGE flag byte (libzmq's msg_t::more / msg_t::command) <-> ZMTP frame flags.
_WIRE_MORE = 0x01
_WIRE_COMMAND = 0x02
_TO_WIRE_BYTE = tuple(
    (_WIRE_MORE if f & MORE else 0) | (_WIRE_COMMAND if f & COMMAND else 0) for f in range(8)
)
_FROM_WIRE = tuple(
    (MORE if b & _WIRE_MORE else 0) | (COMMAND if b & _WIRE_COMMAND else 0) for b in range(256)
)

# Handshake states.
_CLIENT_START, _EXPECT_WELCOME, _EXPECT_READY = "client-start", "expect-welcome", "expect-ready"
_EXPECT_HELLO, _EXPECT_INITIATE, _WAIT_ZAP = "expect-hello", "expect-initiate", "wait-zap"
_DONE, _FAILED = "done", "failed"


def has_curve() -> bool:
    """True when PyNaCl is importable, i.e. CURVE can be used."""
    return _nacl is not None


def _require_nacl() -> None:
    if _nacl is None:
        raise ImportError(_NEED_NACL)


def _key(value: bytes | str | None, what: str) -> bytes:
    """A 32-byte binary key; Z85 text (40 characters) is accepted, as libzmq accepts it."""
    if value is None:
        raise ValueError(f"CURVE {what} is required")
    if isinstance(value, str):
        value = value.encode("ascii")
    value = bytes(value)
    if len(value) == 40:
        value = z85.decode(value)
    if len(value) != 32:
        raise ValueError(f"CURVE {what} must be 32 bytes (or 40 Z85 characters)")
    return value


def curve_keypair() -> tuple[bytes, bytes]:
    """A new key pair as ``(public, secret)`` Z85 bytes, like ``zmq.curve_keypair()``."""
    _require_nacl()
    public, secret = _nacl.crypto_box_keypair()
    return z85.encode(public), z85.encode(secret)


def curve_public(secret_key: bytes | str) -> bytes:
    """The Z85 public key of a Z85 secret key, like ``zmq.curve_public()``."""
    _require_nacl()
    if isinstance(secret_key, str):
        secret_key = secret_key.encode("utf8")
    if len(secret_key) != 40:
        raise ValueError("secret key must be a 40 byte z85 encoded string")
    return z85.encode(_nacl.crypto_scalarmult_base(z85.decode(secret_key)))


def _crypto_fail(what: str) -> ZmtpError:
    # value: ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC, what libzmq's monitor reports
    return ZmtpError(f"CURVE: cannot open {what}", kind="protocol", value=0x11000001)


@functools.lru_cache(maxsize=16)
def _public_of(secret: bytes) -> bytes:
    """The public key of a permanent secret key: a scalar multiplication (~40 us), once per
    key rather than once per connection (a server derives it for every client)."""
    return _nacl.crypto_scalarmult_base(secret)


class CurveMechanism(Mechanism):
    """CurveZMQ: authenticated, encrypted, forward-secret connections (needs PyNaCl)."""

    name = b"CURVE"

    def __init__(
        self,
        as_server: bool = False,
        zap_enabled: bool = False,
        public_key: bytes | None = None,
        secret_key: bytes | None = None,
        server_key: bytes | None = None,
    ) -> None:
        _require_nacl()
        super().__init__(as_server=as_server, zap_enabled=zap_enabled)
        self.encrypts = False  # becomes True with READY: then every frame is boxed
        self._secret = _key(secret_key, "secret key")
        if as_server:
            # The vouch must name our public key; derive it so a wrong option cannot
            # make every client fail.
            self._public = _public_of(self._secret)
            self._state = _EXPECT_HELLO
            self._send_prefix, self._recv_prefix = _MESSAGE_S, _MESSAGE_C
        else:
            self._public = (
                _key(public_key, "public key")
                if public_key is not None
                else _public_of(self._secret)
            )
            self._server = _key(server_key, "server key")
            self._state = _CLIENT_START
            self._send_prefix, self._recv_prefix = _MESSAGE_C, _MESSAGE_S
        self._nonce = 1  # our next short nonce (libzmq starts at 1 too)
        # The last short nonce the peer used; -1 lets its first command carry any value,
        # as libzmq does, and every later one must be strictly greater.
        self._peer_nonce = -1
        self._precom: bytes | None = None  # crypto_box_beforenm(peer transient, our transient)
        self._box: Box | None = None  # boxes traffic under _precom, once the handshake is done
        # Transient keys: the client makes its pair now; the server on HELLO.
        self._cn_public = b""
        self._cn_secret = b""
        self._cn_peer = b""  # the peer's transient public key
        self._cookie_key: bytes | None = None
        self._cookie = b""  # client: the cookie to return in INITIATE
        self.client_key = b""  # server: the client's permanent public key, once vouched for

    # -- nonces ------------------------------------------------------------------------
    def _next_nonce(self) -> bytes:
        n = self._nonce
        if n > _MAX_NONCE:
            raise ZmtpError("CURVE short nonce exhausted", kind="protocol")
        self._nonce = n + 1
        return _Q.pack(n)

    def _check_peer_nonce(self, short: bytes) -> int:
        (n,) = _Q.unpack(short)
        if n <= self._peer_nonce:
            raise ZmtpError("CURVE: replayed or reordered short nonce", kind="protocol")
        return n

    # -- handshake ---------------------------------------------------------------------
    def start(self) -> list[Command]:
        if self.as_server:
            return []
        if self._state != _CLIENT_START:
            raise ZmtpError("CURVE handshake already started", kind="protocol")
        self._cn_public, self._cn_secret = _nacl.crypto_box_keypair()
        short = self._next_nonce()
        try:
            signature = _nacl.crypto_box_easy(
                _ZERO64, _HELLO_NONCE + short, self._server, self._cn_secret
            )
        except _CryptoError:  # e.g. an all-zero (unset) server key: libsodium refuses it
            raise _crypto_fail("HELLO (bad server key)") from None
        self._state = _EXPECT_WELCOME
        return [(b"HELLO", _VERSION + _PADDING + self._cn_public + short + signature)]

    def on_command(self, name: bytes, data: bytes) -> list[Command]:
        try:
            return self._dispatch(bytes(name), bytes(data))
        except _CryptoError:
            self._state = _FAILED
            raise _crypto_fail("box") from None
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
            return self._on_initiate(data)
        if state == _EXPECT_WELCOME and name == b"WELCOME":
            return self._on_welcome(data)
        if state == _EXPECT_READY and name == b"READY":
            return self._on_ready(data)
        raise ZmtpError(
            f"unexpected command {name!r} in CURVE handshake ({state})", kind="protocol"
        )

    # server side
    def _on_hello(self, data: bytes) -> list[Command]:
        if len(data) != _HELLO_SIZE:
            raise ZmtpError("malformed CURVE HELLO (size)", kind="protocol")
        if data[:2] != _VERSION:
            raise ZmtpError("unsupported CurveZMQ version in HELLO", kind="protocol")
        if data[2:74] != _PADDING:
            raise ZmtpError("malformed CURVE HELLO (padding)", kind="protocol")
        client_transient = data[74:106]
        short = data[106:114]
        nonce = self._check_peer_nonce(short)
        try:
            signature = _nacl.crypto_box_open_easy(
                data[114:], _HELLO_NONCE + short, client_transient, self._secret
            )
        except _CryptoError:
            raise _crypto_fail("HELLO (wrong server key?)") from None
        if not hmac.compare_digest(signature, _ZERO64):
            raise ZmtpError("malformed CURVE HELLO (signature)", kind="protocol")
        self._peer_nonce = nonce
        self._cn_peer = client_transient
        self._cn_public, self._cn_secret = _nacl.crypto_box_keypair()
        # The cookie carries s' back to us sealed under a key only this WELCOME knows.
        self._cookie_key = os.urandom(32)
        cookie_nonce = os.urandom(16)
        cookie = cookie_nonce + _nacl.crypto_secretbox(
            client_transient + self._cn_secret, _COOKIE_NONCE + cookie_nonce, self._cookie_key
        )
        welcome_nonce = os.urandom(16)
        box = _nacl.crypto_box_easy(
            self._cn_public + cookie,
            _WELCOME_NONCE + welcome_nonce,
            client_transient,
            self._secret,
        )
        self._state = _EXPECT_INITIATE
        return [(b"WELCOME", welcome_nonce + box)]

    def _on_initiate(self, data: bytes) -> list[Command]:
        if len(data) < _INITIATE_MIN:
            raise ZmtpError("malformed CURVE INITIATE (size)", kind="protocol")
        key = self._cookie_key
        self._cookie_key = None  # one INITIATE per cookie, as RFC 26 asks
        if key is None:  # pragma: no cover - state machine guarantees it
            raise ZmtpError("CURVE cookie already used", kind="protocol")
        try:
            cookie = _nacl.crypto_secretbox_open(data[16:96], _COOKIE_NONCE + data[:16], key)
        except _CryptoError:
            raise _crypto_fail("INITIATE cookie") from None
        if not hmac.compare_digest(cookie, self._cn_peer + self._cn_secret):
            raise ZmtpError("CURVE INITIATE cookie does not match", kind="protocol")
        short = data[96:104]
        nonce = self._check_peer_nonce(short)
        precom = _nacl.crypto_box_beforenm(self._cn_peer, self._cn_secret)
        try:
            plain = _nacl.crypto_box_open_easy_afternm(data[104:], _INITIATE_NONCE + short, precom)
        except _CryptoError:
            raise _crypto_fail("INITIATE") from None
        if len(plain) < 128:
            raise ZmtpError("malformed CURVE INITIATE (box)", kind="protocol")
        client_key = plain[:32]
        try:
            vouch = _nacl.crypto_box_open_easy(
                plain[48:128], _VOUCH_NONCE + plain[32:48], client_key, self._cn_secret
            )
        except _CryptoError:
            raise _crypto_fail("INITIATE vouch") from None
        if not hmac.compare_digest(vouch, self._cn_peer + self._public):
            raise ZmtpError("CURVE vouch does not match the connection", kind="protocol")
        self.peer_properties = decode_metadata(plain[128:])
        self._peer_nonce = nonce
        self._precom = precom
        self.client_key = client_key
        if self.zap_enabled:
            self._state = _WAIT_ZAP
            self.zap_credentials = [client_key]
            return []
        return [self._ready()]

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
        return [self._ready()]

    def _ready(self) -> Command:
        short = self._next_nonce()
        assert self._precom is not None
        box = _nacl.crypto_box_easy_afternm(
            encode_metadata(self.metadata), _READY_NONCE + short, self._precom
        )
        self._finish()
        return (b"READY", short + box)

    # client side
    def _on_welcome(self, data: bytes) -> list[Command]:
        if len(data) != _WELCOME_SIZE:
            raise ZmtpError("malformed CURVE WELCOME (size)", kind="protocol")
        try:
            plain = _nacl.crypto_box_open_easy(
                data[16:], _WELCOME_NONCE + data[:16], self._server, self._cn_secret
            )
        except _CryptoError:
            raise _crypto_fail("WELCOME (wrong server key?)") from None
        server_transient = plain[:32]
        self._cookie = plain[32:]
        self._cn_peer = server_transient
        try:
            self._precom = _nacl.crypto_box_beforenm(server_transient, self._cn_secret)
        except _CryptoError:  # e.g. a low-order point: libsodium refuses the key
            raise _crypto_fail("WELCOME (bad transient key)") from None
        vouch_nonce = os.urandom(16)
        vouch = vouch_nonce + _nacl.crypto_box_easy(
            self._cn_public + self._server,
            _VOUCH_NONCE + vouch_nonce,
            server_transient,
            self._secret,
        )
        short = self._next_nonce()
        box = _nacl.crypto_box_easy_afternm(
            self._public + vouch + encode_metadata(self.metadata),
            _INITIATE_NONCE + short,
            self._precom,
        )
        self._state = _EXPECT_READY
        return [(b"INITIATE", self._cookie + short + box)]

    def _on_ready(self, data: bytes) -> list[Command]:
        if len(data) < _READY_MIN:
            raise ZmtpError("malformed CURVE READY (size)", kind="protocol")
        short = data[:8]
        nonce = self._check_peer_nonce(short)
        assert self._precom is not None
        try:
            plain = _nacl.crypto_box_open_easy_afternm(data[8:], _READY_NONCE + short, self._precom)
        except _CryptoError:
            raise _crypto_fail("READY") from None
        self.peer_properties = decode_metadata(plain)
        self._peer_nonce = nonce
        self._finish()
        return []

    def _finish(self) -> None:
        self._state = _DONE
        self._cn_secret = b""  # only the precomputed key is needed from here on
        self.ready = True
        self.encrypts = True
        self._box = Box(
            self._precom,  # type: ignore[arg-type]
            send_prefix=self._send_prefix,
            recv_prefix=self._recv_prefix,
        )

    # -- traffic -----------------------------------------------------------------------
    def encrypt(self, flags: int, body: bytes) -> bytes:
        """Box one frame as the data of a MESSAGE command (nonce + box)."""
        box = self._box
        if box is None:
            raise ZmtpError("CURVE: encrypt before the handshake completed", kind="protocol")
        short = self._next_nonce()
        return short + box.seal(_TO_WIRE_BYTE[flags & 7], body, self._send_prefix + short)

    def seal_messages(self, msgs, out: list) -> int:
        """Box a batch of data messages into MESSAGE frames (one pass, see
        :meth:`Box.seal_messages`)."""
        box = self._box
        if box is None:
            raise ZmtpError("CURVE: encrypt before the handshake completed", kind="protocol")
        total, self._nonce = box.seal_messages(msgs, out, self._nonce)
        return total

    def open_messages(self, buf: bytes, pos: int, events: list, cur: list):
        box = self._box
        if box is None:
            return pos, cur, None
        pos, cur, self._peer_nonce, opened = box.open_messages(
            buf, pos, events, cur, self._peer_nonce
        )
        if opened is not None:
            opened = (_FROM_WIRE[opened[0]], opened[1])
        return pos, cur, opened

    def decrypt(self, data: bytes) -> tuple[int, bytes]:
        """Open one MESSAGE command's data; refuse replays and tampering."""
        box = self._box
        if box is None:
            raise ZmtpError("CURVE: MESSAGE before the handshake completed", kind="protocol")
        if len(data) < _MESSAGE_MIN:
            raise ZmtpError("malformed CURVE MESSAGE (size)", kind="protocol")
        if data.__class__ is not bytes:
            data = memoryview(data)  # a big frame is opened in place, never copied first
        short = bytes(data[:8])
        nonce = self._check_peer_nonce(short)
        try:
            flag, body = box.open(data[8:], self._recv_prefix + short)
        except _CryptoError:
            raise _crypto_fail("MESSAGE") from None
        self._peer_nonce = nonce
        return _FROM_WIRE[flag], body
