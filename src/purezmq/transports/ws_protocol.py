"""ZWS 2.0 (ZeroMQ RFC 45): ZMTP over WebSocket, as a sans-I/O connection.

Theory of operation.  :class:`ZwsConnection` wraps the ordinary ZMTP state machine
(:class:`purezmq.zmtp.connection.ZmtpConnection`, the *inner* connection) and offers the
stream engine the same interface, so ``ws://`` and ``wss://`` reuse the whole ZMTP
handshake, security mechanisms, heartbeats and subscription handling.  Three layers, each
sans-I/O:

``TLS``        (``wss://`` only) :mod:`ssl`'s ``SSLObject`` over two memory BIOs: raw
               socket bytes in, plaintext out, and back.
``WebSocket``  `wsproto <https://python-hyper.org/projects/wsproto/>`_: the HTTP upgrade
               (subprotocol choice, path check, refusals as HTTP statuses), then
               frames, masking, ping/pong and the close handshake.
``ZWS``        one binary WebSocket message per ZMTP frame: a flags byte (``0x01`` MORE,
               ``0x02`` COMMAND) and the frame body.  Incoming messages are rewritten as
               ZMTP frames and fed to the inner connection; the inner connection's output
               is parsed back into frames and sent as messages.

The subprotocol decides what the inner connection believes its peer said first:

``ZWS2.0/NULL``, ``/PLAIN``, ``/CURVE``  a ZMTP 3.1 greeting with that mechanism: the
    handshake commands (READY, HELLO...) then travel as command messages.
``ZWS2.0`` (no mechanism)  a ZMTP 2.0 greeting (RFC 15, which the inner connection speaks
    already): each side's first message is its routing id, subscriptions are ``\\x01topic``
    messages, there are no commands.  The peer names no socket type, so a compatible one is
    assumed (libzmq does not check either).  This is what jszmq speaks.

Our own greeting bytes are dropped from the inner output.  As libzmq's ws engine does,
heartbeats are WebSocket PING / PONG control frames rather than ZMTP commands (a bare
``ZWS2.0`` connection, whose inner ZMTP 2.0 connection has none, gets them from here), and
subscriptions are sent as ``\\x01topic`` / ``\\x00topic`` messages.  Errors are
:class:`ZmtpError` (``PROTOCOL_ERROR_WS_UNSPECIFIED`` during the handshake), after
queueing an HTTP refusal or a WebSocket close frame for the peer.
"""

from __future__ import annotations

import contextlib
import ssl
import struct

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError

from purezmq.zmtp.connection import ZmtpConnection, make_greeting
from purezmq.zmtp.errors import ZmtpError
from purezmq.zmtp.frames import COMMAND, LONG, MORE, frame_header

WS_UNSPECIFIED = 0x30000000  # ZMQ_PROTOCOL_ERROR_WS_UNSPECIFIED
BARE = "ZWS2.0"
_Q = struct.Struct(">Q")
_RECV_CHUNK = 1 << 17

# Close codes (RFC 6455, 7.4.1).
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_TOO_BIG = 1009

# ZMTP 2.0 socket-type bytes of a peer we assume for bare ZWS2.0 (it names none).
_V2_PEER = {
    "PAIR": 0, "PUB": 2, "XPUB": 2, "SUB": 1, "XSUB": 1, "REQ": 4, "REP": 3,
    "DEALER": 6, "ROUTER": 5, "PULL": 8, "PUSH": 7,
}  # fmt: skip

_REASONS = {400: "Bad Request", 404: "Not Found", 426: "Upgrade Required"}


def subprotocols(
    mechanism_name: bytes, socket_type: str, zap_enabled: bool = False, heartbeats: bool = False
) -> list[str]:
    """The ZWS subprotocols a socket speaks, in our order of preference.

    With NULL the bare ``ZWS2.0`` comes first: jszmq's server takes the first protocol a
    client offers and speaks only that one (libzmq offers ``ZWS2.0/NULL`` first).  Except
    with heartbeats: libzmq (4.3.5, and its master in 2026) aborts on a WebSocket ping, or
    when it sends one, on a bare connection (an assertion that a mechanism exists), so a
    heartbeating socket offers libzmq's order.  Socket types without a ZMTP 2.0 form
    (CLIENT, RADIO...) and a ZAP-enabled server need the mechanism."""
    name = mechanism_name.decode()
    if name == "NULL" and socket_type in _V2_PEER and not zap_enabled:
        return ["ZWS2.0/NULL", BARE] if heartbeats else [BARE, "ZWS2.0/NULL"]
    return [f"ZWS2.0/{name}"]


def http_refusal(status: int, text: str, extra: str = "") -> bytes:
    """A complete HTTP/1.1 error response with a plain-text body."""
    body = (text + "\n").encode()
    return (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{extra}"
        "Connection: close\r\n\r\n"
    ).encode() + body


class ZwsConnection:
    """One ZWS 2.0 connection (client or server side); see the module docstring.

    Offers what the stream engine uses of :class:`ZmtpConnection`: ``receive_data``,
    ``data_to_send``, ``has_output``, ``encode_queue``, ``take_commands``, ``ready``,
    ``mechanism``, ``next_timer``, ``handle_timer``, ``zap_reply``, ``close`` and a
    ``sink`` that is always None (messages arrive whole from the WebSocket layer).
    """

    sink = None

    def __init__(
        self,
        inner: ZmtpConnection,
        *,
        client: bool,
        host: str,
        path: str,
        maxmsgsize: int = -1,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        heartbeat_ivl: float = 0.0,
        heartbeat_timeout: float | None = None,
    ) -> None:
        self.inner = inner
        self.mechanism = inner.mechanism
        self.client = client
        self.path = path
        self.maxmsgsize = maxmsgsize
        self.subprotocol: str | None = None
        mech = inner.mechanism
        self.offered = subprotocols(
            mech.name, inner.socket_type, mech.zap_enabled, heartbeats=heartbeat_ivl > 0
        )
        self._ws = WSConnection(ConnectionType.CLIENT if client else ConnectionType.SERVER)
        self._plain: list[bytes] = []  # WebSocket bytes for the peer (before TLS)
        self._skip = 0  # our own greeting bytes still to drop from the inner output
        self._zout = b""  # an incomplete frame of inner output (never, in practice)
        self._parts: list[bytes] = []  # the WebSocket message being received
        self._size = 0
        self._closed = False
        self._pong_at: int | None = None  # where our unsent pong is in _plain
        self._pong_bytes = b""
        self._head: bytes | None = None if client else b""  # a request's first bytes
        self._now = 0.0
        self._early: list = []
        # Heartbeats of a bare ZWS2.0 connection (the inner ZMTP 2.0 one has none), as
        # libzmq: a WebSocket PING every HEARTBEAT_IVL, HEARTBEAT_TIMEOUT to hear anything.
        self._hb_ivl = heartbeat_ivl
        self._hb_timeout = heartbeat_ivl if heartbeat_timeout is None else heartbeat_timeout
        self._bare_heartbeats = False
        self._next_ping: float | None = None
        self._ping_deadline: float | None = None
        self._tls: ssl.SSLObject | None = None
        self._tls_ready = True
        if tls is not None:
            self._bio_in = ssl.MemoryBIO()
            self._bio_out = ssl.MemoryBIO()
            self._tls = tls.wrap_bio(
                self._bio_in,
                self._bio_out,
                server_side=not client,
                server_hostname=server_hostname if client else None,
            )
            self._tls_ready = False
        if client:
            request = Request(host=host, target=path, subprotocols=self.offered)
            self._plain.append(self._ws.send(request))
        if self._tls is not None:
            self._tls_step()

    # -- state the engine reads ------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.subprotocol is not None and self.inner.ready

    @property
    def has_output(self) -> bool:
        if self._plain and self._tls_ready:
            return True
        if self._tls is not None and self._bio_out.pending:
            return True
        return self.subprotocol is not None and self.inner.has_output

    def next_timer(self) -> float | None:
        when = self.inner.next_timer()  # its handshake deadline covers the upgrade too
        for t in (self._next_ping, self._ping_deadline):
            if t is not None and (when is None or t < when):
                when = t
        return when

    def handle_timer(self, now: float) -> None:
        self.inner.handle_timer(now)
        if self._ping_deadline is not None and now >= self._ping_deadline:
            raise ZmtpError("heartbeat timed out", kind="timeout")
        if self._next_ping is not None and now >= self._next_ping:
            if self._ws.state is ConnectionState.OPEN:
                self._plain.append(self._ws.send(Ping(b"")))
            self._next_ping = now + self._hb_ivl
            if self._ping_deadline is None and self._hb_timeout > 0:
                self._ping_deadline = now + self._hb_timeout

    def close(self) -> None:
        self._closed = True
        self.inner.close()

    # -- output ----------------------------------------------------------------------------
    def data_to_send(self) -> bytes:
        if self.subprotocol is not None and self.inner.has_output:
            self._translate([self.inner.data_to_send()])
        return self._wire()

    def encode_queue(self, q, out: list, limit: int):
        """Encode queued pipe items through the inner connection, as WebSocket messages."""
        zmtp: list = []
        marker = self.inner.encode_queue(q, zmtp, limit)
        self._translate(zmtp)
        data = self._wire()
        if data:
            out.append(data)
        return marker  # None: the engine never shares a publisher's ZMTP log with ws peers

    def take_commands(self, out: list) -> None:
        zmtp: list = []
        self.inner.take_commands(zmtp)
        self._translate(zmtp)
        data = self._wire()
        if data:
            out.append(data)

    def _wire(self) -> bytes:
        """What goes on the socket now: the queued WebSocket bytes, through TLS if any."""
        tls = self._tls
        if tls is None:
            plain = self._plain
            if not plain:
                return b""
            self._plain = []
            return plain[0] if len(plain) == 1 else b"".join(plain)
        if self._tls_ready and self._plain:
            plain, self._plain = self._plain, []
            # Writing into a memory BIO fails only after a fatal TLS error, which the next
            # read reports (and the engine may be sending a last word while closing here).
            with contextlib.suppress(ssl.SSLError):
                for chunk in plain:
                    tls.write(chunk)
        return self._bio_out.read()

    def _translate(self, chunks: list) -> None:
        """Inner ZMTP output -> one WebSocket message per frame (see the module docstring)."""
        if not chunks:
            return
        buf = chunks[0] if len(chunks) == 1 and not self._zout else self._zout + b"".join(chunks)
        n = len(buf)
        pos = 0
        if self._skip:
            pos = min(self._skip, n)
            self._skip -= pos
        ws = self._ws
        if ws.state is not ConnectionState.OPEN:
            self._zout = b""
            return  # closing: nothing more goes out
        send = ws.send
        out = self._plain
        mv = memoryview(buf)
        while n - pos >= 2:
            flags = buf[pos]
            if flags & LONG:
                if n - pos < 9:
                    break
                (size,) = _Q.unpack_from(buf, pos + 1)
                start = pos + 9
            else:
                size = buf[pos + 1]
                start = pos + 2
            end = start + size
            if end > n:
                break
            pos = end
            if flags & COMMAND:
                head = bytes(mv[start : start + 10])
                if head[:5] == b"\x04PING":
                    # Our heartbeats are WebSocket pings (a PONG goes out as it is: it answers
                    # a peer that sent a ZMTP PING message; WebSocket pings get pongs below).
                    out.append(send(Ping(b"")))
                    continue
                if head == b"\x09SUBSCRIBE":  # as libzmq's ws encoder: \x01topic
                    out.append(send(Message(data=b"\x00\x01" + bytes(mv[start + 10 : end]))))
                    continue
                if head[:7] == b"\x06CANCEL":
                    out.append(send(Message(data=b"\x00\x00" + bytes(mv[start + 7 : end]))))
                    continue
                out.append(send(Message(data=b"\x02" + bytes(mv[start:end]))))
            else:
                head = b"\x01" if flags & MORE else b"\x00"
                out.append(send(Message(data=head + bytes(mv[start:end]))))
        self._zout = bytes(mv[pos:]) if pos < n else b""

    # -- input -----------------------------------------------------------------------------
    def receive_data(self, data: bytes, now: float = 0.0) -> list:
        """Feed bytes from the socket; return the inner connection's events."""
        if self._closed:
            raise ZmtpError("connection is closed", kind="protocol")
        if self._tls is not None:
            data = self._tls_in(data)
            if not data:
                return []
        self._now = now
        if self._head is not None:
            # As libzmq: a request must start with "GET ", so a ZMTP peer or other binary
            # junk is refused at once rather than waited on until HANDSHAKE_IVL.
            self._head += data[: 4 - len(self._head)]
            if not b"GET ".startswith(self._head[:4]):
                self._refuse_http(400, "not a WebSocket upgrade request (no GET)")
            if len(self._head) >= 4:
                self._head = None
        ws = self._ws
        try:
            ws.receive_data(data)
        except RemoteProtocolError as e:
            if self.client:  # the server's answer is no HTTP upgrade reply
                raise ZmtpError(
                    f"bad WebSocket upgrade reply: {e}", kind="protocol", value=WS_UNSPECIFIED
                ) from None
            if "Upgrade" in str(e):  # a plain HTTP request: say what this port speaks
                self._refuse_http(
                    426,
                    "this is a ZeroMQ WebSocket endpoint (ZWS 2.0): upgrade to websocket with"
                    f" subprotocol {' or '.join(self.offered)}",
                    "Upgrade: websocket\r\n",
                )
            self._refuse_http(400, f"bad WebSocket upgrade request: {e}")
        zmtp: list[bytes] = []
        failure: ZmtpError | None = None
        alive = False
        try:
            for ev in ws.events():
                cls = ev.__class__
                if cls is BytesMessage:
                    if self._message(ev, zmtp):
                        alive = True
                elif cls is Ping:
                    alive = True
                    if ws.state is ConnectionState.OPEN:
                        self._pong(ev)
                elif cls is Pong:
                    alive = True
                elif cls is Request:
                    self._accept(ev)
                elif cls is AcceptConnection:
                    self._accepted(ev)
                elif cls is RejectConnection:
                    raise ZmtpError(
                        f"the server refused the WebSocket upgrade (HTTP {ev.status_code})",
                        kind="protocol",
                        value=WS_UNSPECIFIED,
                    )
                elif cls is TextMessage:
                    self._close_ws(CLOSE_UNSUPPORTED_DATA, "ZWS messages are binary")
                elif cls is CloseConnection:
                    if ws.state is ConnectionState.REMOTE_CLOSING:
                        self._plain.append(ws.send(ev.response()))
                        raise ZmtpError(
                            f"the peer closed the WebSocket ({ev.code} {ev.reason or ''})".rstrip(),
                            kind="closed",
                        )
                    # wsproto found a framing error: it is ours to tell the peer
                    self._close_ws(ev.code, ev.reason or "WebSocket protocol error")
                # RejectData (the body of a refusal) is of no use here.
        except RemoteProtocolError as e:
            failure = ZmtpError(
                f"bad WebSocket handshake: {e}", kind="protocol", value=WS_UNSPECIFIED
            )
        except ZmtpError as e:
            failure = e
        events: list = []
        if self._early:
            events, self._early = self._early, []
        if (zmtp or alive) and self.subprotocol is not None:
            self._ping_deadline = None
            try:
                events += self.inner.receive_data(b"".join(zmtp), now)
            except ZmtpError as e:
                if failure is None:
                    raise
                events += e.events
            if self._bare_heartbeats and self._next_ping is None and self.inner.ready:
                self._next_ping = now + self._hb_ivl
        if failure is not None:
            failure.events = events
            raise failure
        return events

    def _pong(self, ping: Ping) -> None:
        """Answer a ping.  A peer that floods pings and reads nothing gets one pong, for its
        latest ping (RFC 6455 5.5.3 allows it), not a queue that grows without bound."""
        pong = self._ws.send(ping.response())
        plain = self._plain
        at = self._pong_at
        if at is not None and at < len(plain) and plain[at] is self._pong_bytes:
            plain[at] = pong
        else:
            self._pong_at = len(plain)
            plain.append(pong)
        self._pong_bytes = pong

    def zap_reply(self, status_code, status_text, user_id, meta) -> list:
        return self.inner.zap_reply(status_code, status_text, user_id, meta)

    def _message(self, ev: BytesMessage, zmtp: list) -> bool:
        """A piece of a binary message; a whole one becomes a ZMTP frame in ``zmtp``."""
        if self.subprotocol is None:
            self._close_ws(CLOSE_PROTOCOL_ERROR, "message before the handshake")
        data = ev.data
        self._size += len(data)
        if self.maxmsgsize >= 0 and self._size > self.maxmsgsize + 1:  # + the flags byte
            self._close_ws(CLOSE_TOO_BIG, f"message larger than {self.maxmsgsize} bytes")
        if not ev.message_finished:
            if ev.frame_finished:  # a fragment: libzmq refuses them, as do we
                self._close_ws(CLOSE_UNSUPPORTED_DATA, "fragmented messages are not supported")
            self._parts.append(data)
            return False
        if self._parts:
            self._parts.append(data)
            data = b"".join(self._parts)
            self._parts = []
        self._size = 0
        if not data:
            self._close_ws(CLOSE_PROTOCOL_ERROR, "empty message (no ZWS flags byte)")
        flags = data[0]
        if flags & ~0x03:
            self._close_ws(CLOSE_PROTOCOL_ERROR, f"bad ZWS flags {flags:#x}")
        zflags = (flags & MORE) | (COMMAND if flags & 0x02 else 0)
        body = memoryview(data)[1:]
        zmtp.append(frame_header(zflags, len(body)))
        zmtp.append(body)
        return True

    def _close_ws(self, code: int, reason: str) -> None:
        """Queue a close frame with ``code`` and fail the connection."""
        ws = self._ws
        if ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            self._plain.append(ws.send(CloseConnection(code=code, reason=reason)))
        raise ZmtpError(
            f"WebSocket closed: {code} {reason}",
            kind="protocol",
            value=WS_UNSPECIFIED if self.subprotocol is None else 0,
        )

    # -- the upgrade -----------------------------------------------------------------------
    def _refuse_http(self, status: int, text: str, extra: str = "") -> None:
        self._plain.append(http_refusal(status, text, extra))
        raise ZmtpError(text, kind="protocol", value=WS_UNSPECIFIED)

    def _accept(self, req: Request) -> None:
        """Server: check the upgrade request, choose a subprotocol, answer."""
        target = req.target.partition("?")[0]
        if target != self.path:
            self._refuse_http(404, f"no ZeroMQ socket at {target} (this one is at {self.path})")
        chosen = next((p for p in req.subprotocols if p in self.offered), None)
        if chosen is None:
            self._refuse_http(
                400,
                f"no supported ZWS subprotocol (offered: {', '.join(req.subprotocols) or 'none'};"
                f" this socket speaks {', '.join(self.offered)})",
            )
        # Extensions (permessage-deflate, which jszmq's client offers) are declined.
        self._plain.append(self._ws.send(AcceptConnection(subprotocol=chosen)))
        self._select(chosen)

    def _accepted(self, ev: AcceptConnection) -> None:
        """Client: the server accepted; it must have chosen one of ours."""
        if ev.subprotocol not in self.offered:
            raise ZmtpError(
                f"the server chose subprotocol {ev.subprotocol!r}, not one of ours",
                kind="protocol",
                value=WS_UNSPECIFIED,
            )
        self._select(ev.subprotocol)

    def _select(self, protocol: str) -> None:
        """Start the inner connection as if the peer had sent the greeting ``protocol`` implies."""
        inner = self.inner
        mech = inner.mechanism
        if protocol == BARE:
            greeting = b"\xff" + b"\x00" * 8 + b"\x7f\x01" + bytes((_V2_PEER[inner.socket_type],))
            self._skip = 12  # our signature, major version and socket-type byte
            self._bare_heartbeats = self._hb_ivl > 0
        else:
            peer_server = mech.name != b"NULL" and not mech.as_server
            greeting = make_greeting(mech.name, peer_server)
            self._skip = 64
        self.subprotocol = protocol
        self._early = inner.receive_data(greeting, self._now)  # none: the peer has said nothing yet

    # -- TLS -------------------------------------------------------------------------------
    def _tls_step(self) -> None:
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            return
        except (ssl.SSLError, ssl.CertificateError) as e:
            raise ZmtpError(
                f"TLS handshake failed: {e}", kind="protocol", value=WS_UNSPECIFIED
            ) from None
        self._tls_ready = True

    def _tls_in(self, data: bytes) -> bytes:
        """Raw bytes in; the plaintext they complete out."""
        self._bio_in.write(data)
        if not self._tls_ready:
            self._tls_step()
            if not self._tls_ready:
                return b""
        tls = self._tls
        chunks = []
        while True:
            try:
                chunk = tls.read(_RECV_CHUNK)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                if not chunks:
                    raise ZmtpError("the peer closed TLS", kind="closed") from None
                break
            except ssl.SSLError as e:
                raise ZmtpError(f"TLS error: {e}", kind="protocol") from None
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
