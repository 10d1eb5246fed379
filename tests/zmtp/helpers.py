"""Test tools for the sans-I/O ZMTP layer: in-memory connection pairs and raw wire bytes.

``ConnectionPair`` wires two :class:`ZmtpConnection` objects back to back: whatever one
queues (``data_to_send()`` for protocol bytes, ``encode()`` for pipe items) is fed to the
other's ``receive_data()``.  The security mechanism is a :class:`MechanismKit` (a name and
two factories), so PLAIN and CURVE plug in exactly like NULL; ``ZapRequested`` events are
answered by the pair's ``zap_handler``.

The ``raw_*`` helpers write ZMTP by hand (greetings, commands, frames) so a test can play a
peer that misbehaves in one precise way.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from purezmq.zmtp import HandshakeSucceeded, ZapRequested, ZmtpConnection, ZmtpError
from purezmq.zmtp.connection import make_greeting
from purezmq.zmtp.frames import COMMAND, LONG, MORE, encode_command
from purezmq.zmtp.mechanisms.base import Mechanism
from purezmq.zmtp.mechanisms.null import NullMechanism
from purezmq.zmtp.metadata import encode_metadata
from purezmq.zmtp.sockettypes import COMPATIBLE

SOCKET_TYPES = sorted(COMPATIBLE)
COMPATIBLE_PAIRS = sorted((a, b) for a in SOCKET_TYPES for b in SOCKET_TYPES if b in COMPATIBLE[a])
INCOMPATIBLE_PAIRS = sorted(
    (a, b) for a in SOCKET_TYPES for b in SOCKET_TYPES if b not in COMPATIBLE[a]
)


# -- mechanisms ------------------------------------------------------------------------------
@dataclass(frozen=True)
class MechanismKit:
    """How to build the client and server halves of one security mechanism."""

    name: str
    client: Callable[[], Mechanism]
    server: Callable[[], Mechanism]
    zap: bool = False  # the server asks ZAP before finishing the handshake

    def __repr__(self) -> str:  # readable pytest ids
        return self.name


NULL = MechanismKit(
    "NULL", lambda: NullMechanism(as_server=False), lambda: NullMechanism(as_server=True)
)
NULL_ZAP = MechanismKit(
    "NULL+ZAP",
    lambda: NullMechanism(as_server=False),
    lambda: NullMechanism(as_server=True, zap_enabled=True),
    zap=True,
)


def plain_kit(username: bytes = b"admin", password: bytes = b"secret", zap: bool = False):
    from purezmq.zmtp.mechanisms.plain import PlainMechanism

    return MechanismKit(
        "PLAIN+ZAP" if zap else "PLAIN",
        lambda: PlainMechanism(as_server=False, username=username, password=password),
        lambda: PlainMechanism(as_server=True, zap_enabled=zap),
        zap=zap,
    )


def curve_kit(zap: bool = False):
    """A CURVE kit with fresh permanent keys, or None when PyNaCl is missing."""
    from purezmq.zmtp.mechanisms.curve import CurveMechanism, curve_keypair, has_curve

    if not has_curve():
        return None
    server_public, server_secret = curve_keypair()
    client_public, client_secret = curve_keypair()
    return MechanismKit(
        "CURVE+ZAP" if zap else "CURVE",
        lambda: CurveMechanism(
            as_server=False,
            public_key=client_public,
            secret_key=client_secret,
            server_key=server_public,
        ),
        lambda: CurveMechanism(as_server=True, zap_enabled=zap, secret_key=server_secret),
        zap=zap,
    )


def all_kits() -> list[MechanismKit]:
    """Every mechanism this build can run (CURVE only with PyNaCl)."""
    kits = [NULL, NULL_ZAP, plain_kit(), plain_kit(zap=True)]
    for zap in (False, True):
        kit = curve_kit(zap)
        if kit is not None:
            kits.append(kit)
    return kits


def zap_allow(event: ZapRequested) -> tuple[bytes, bytes, bytes, dict[str, bytes]]:
    return b"200", b"OK", b"user", {}


# -- pairs -----------------------------------------------------------------------------------
@dataclass
class ConnectionPair:
    """Two connections talking through memory.  ``a`` is the client, ``b`` the server."""

    a: ZmtpConnection
    b: ZmtpConnection
    zap_handler: Callable[[ZapRequested], tuple] | None = zap_allow
    events_a: list = field(default_factory=list)
    events_b: list = field(default_factory=list)
    wire_ab: bytearray = field(default_factory=bytearray)  # every byte a sent to b
    wire_ba: bytearray = field(default_factory=bytearray)

    @classmethod
    def create(
        cls,
        client_type: str = "DEALER",
        server_type: str = "ROUTER",
        kit: MechanismKit = NULL,
        *,
        now: float = 0.0,
        client_kw: dict | None = None,
        server_kw: dict | None = None,
        **kw,
    ) -> ConnectionPair:
        a = ZmtpConnection(client_type, kit.client(), now=now, **(client_kw or {}))
        b = ZmtpConnection(server_type, kit.server(), now=now, **(server_kw or {}))
        return cls(a, b, **kw)

    def other(self, conn: ZmtpConnection) -> ZmtpConnection:
        return self.b if conn is self.a else self.a

    def _events(self, conn: ZmtpConnection) -> list:
        return self.events_a if conn is self.a else self.events_b

    def deliver(self, src: ZmtpConnection, data: bytes, now: float = 0.0) -> list:
        """Feed ``data`` (written by ``src``) to the other side; answer ZAP; return events."""
        dst = self.other(src)
        (self.wire_ab if src is self.a else self.wire_ba).extend(data)
        events = dst.receive_data(data, now) if data else []
        events = self._answer_zap(dst, events)
        self._events(dst).extend(events)
        return events

    def _answer_zap(self, conn: ZmtpConnection, events: list) -> list:
        out = list(events)
        for ev in events:
            if isinstance(ev, ZapRequested) and self.zap_handler is not None:
                out.extend(self._answer_zap(conn, conn.zap_reply(*self.zap_handler(ev))))
        return out

    def pump(self, now: float = 0.0, rounds: int = 50) -> None:
        """Move protocol bytes both ways until neither side has anything to say."""
        for _ in range(rounds):
            moved = False
            for src in (self.a, self.b):
                data = src.data_to_send()
                if data:
                    moved = True
                    self.deliver(src, data, now)
            if not moved:
                return
        raise AssertionError(f"pair kept talking after {rounds} rounds")

    def handshake(self, now: float = 0.0) -> ConnectionPair:
        self.pump(now)
        assert self.a.ready and self.b.ready, (self.events_a, self.events_b)
        assert any(isinstance(e, HandshakeSucceeded) for e in self.events_a)
        assert any(isinstance(e, HandshakeSucceeded) for e in self.events_b)
        return self

    def send(self, src: ZmtpConnection, items: Iterable, now: float = 0.0, chunk: int = 0) -> list:
        """Encode pipe items on ``src`` and deliver them (in ``chunk``-byte pieces if > 0)."""
        out: list = []
        src.encode(list(items), out)
        data = b"".join(out)
        if chunk <= 0:
            return self.deliver(src, data, now)
        events: list = []
        for i in range(0, len(data), chunk):
            events += self.deliver(src, data[i : i + chunk], now)
        return events


def messages(events: Iterable) -> list[list[bytes]]:
    """The received messages among ``events`` (``bytes`` for one frame, else a list), as
    lists of ``bytes``."""
    return [
        [e] if type(e) is bytes else [bytes(f) for f in e]
        for e in events
        if isinstance(e, (bytes, list))
    ]


def of_type(events: Iterable, cls: type) -> list:
    return [e for e in events if isinstance(e, cls)]


# -- raw wire bytes --------------------------------------------------------------------------
def raw_greeting(mechanism: bytes = b"NULL", as_server: bool = False, minor: int = 1) -> bytes:
    return make_greeting(mechanism, as_server, minor)


def raw_command(
    name: bytes, data: bytes = b"", *, flags: int = 0, long: bool | None = None
) -> bytes:
    """A command frame; ``flags`` adds bits (e.g. MORE), ``long`` forces an 8-byte size."""
    body = bytes((len(name),)) + name + data
    return raw_frame(body, flags=COMMAND | flags, long=long)


def raw_frame(body: bytes, *, flags: int = 0, long: bool | None = None) -> bytes:
    """One frame with exactly the given flags; ``long`` None picks by size, as RFC 37 says."""
    if long is None:
        long = len(body) > 255
    if long:
        return bytes((flags | LONG,)) + struct.pack(">Q", len(body)) + body
    assert len(body) <= 255
    return bytes((flags & ~LONG, len(body))) + body


def raw_message(frames: list[bytes], *, long: bool | None = None) -> bytes:
    last = len(frames) - 1
    return b"".join(
        raw_frame(f, flags=MORE if i < last else 0, long=long) for i, f in enumerate(frames)
    )


def raw_ready(socket_type: str | None = "DEALER", **props: bytes) -> bytes:
    """A NULL READY command; ``socket_type`` None leaves Socket-Type out."""
    meta: dict[str, bytes] = {}
    if socket_type is not None:
        meta["Socket-Type"] = socket_type.encode()
    meta.update(props)
    return encode_command(b"READY", encode_metadata(meta))


def raw_null_peer(socket_type: str | None = "DEALER", minor: int = 1) -> bytes:
    """Everything a NULL peer says before traffic: greeting and READY."""
    return raw_greeting(b"NULL", False, minor) + raw_ready(socket_type)


def null_conn(socket_type: str = "DEALER", **kw) -> ZmtpConnection:
    return ZmtpConnection(socket_type, NullMechanism(as_server=kw.pop("as_server", False)), **kw)


def traffic_conn(
    socket_type: str = "PULL", peer_type: str = "PUSH", minor: int = 1, **kw
) -> ZmtpConnection:
    """A NULL connection that has finished its handshake with a hand-written peer."""
    conn = null_conn(socket_type, **kw)
    events = conn.receive_data(raw_null_peer(peer_type, minor), kw.get("now", 0.0))
    assert conn.ready and of_type(events, HandshakeSucceeded)
    conn.data_to_send()  # drop greeting + READY
    return conn


def split_commands(data: bytes) -> list[tuple[bytes, bytes]]:
    """Parse a run of command frames (what ``data_to_send`` returns after the greeting)."""
    out = []
    pos = 0
    while pos < len(data):
        flags = data[pos]
        assert flags & COMMAND, f"not a command frame at {pos}: {data[pos : pos + 16]!r}"
        if flags & LONG:
            (size,) = struct.unpack_from(">Q", data, pos + 1)
            pos += 9
        else:
            size = data[pos + 1]
            pos += 2
        body = data[pos : pos + size]
        assert len(body) == size, "truncated command"
        pos += size
        out.append((body[1 : 1 + body[0]], body[1 + body[0] :]))
    return out


def greeting_of(conn: ZmtpConnection) -> bytes:
    """The 64-byte ZMTP 3.x greeting ``conn`` sends."""
    mech = conn.mechanism
    return make_greeting(mech.name, mech.as_server and mech.name != b"NULL")


def split_greeting(conn: ZmtpConnection, data: bytes) -> tuple[bytes, bytes]:
    """Split what ``conn`` sent into greeting bytes and the rest: the greeting goes in two
    parts (signature and major version, then the rest once the peer's version is known)."""
    greeting = greeting_of(conn)
    head = b""
    for part in (greeting[:11], greeting[11:]):
        if data.startswith(part):
            head += part
            data = data[len(part) :]
    return head, data


def whole_greeting(conn: ZmtpConnection) -> bytes:
    """``conn``'s whole greeting, as it sends it to a ZMTP 3.x peer (fed the peer's version)."""
    data = conn.data_to_send()
    assert len(data) == 11  # no more before the peer's version is known
    conn.receive_data(raw_greeting()[:11])
    return data + conn.data_to_send()


def sent_commands(conn: ZmtpConnection, *, greeting: bool = False) -> list[tuple[bytes, bytes]]:
    """The commands ``conn`` queued, skipping its greeting (or what is left of it, sent
    once the peer's version came) when ``greeting``."""
    data = conn.data_to_send()
    if greeting:
        head, data = split_greeting(conn, data)
        assert head
    return split_commands(data)


def buffered_bytes(conn: ZmtpConnection) -> int:
    """How many received bytes ``conn`` holds internally (white-box: private attributes)."""
    return len(conn._buf) + sum(len(p) for p in conn._big_parts) + sum(len(f) for f in conn._cur)


__all__ = [
    "COMPATIBLE_PAIRS",
    "INCOMPATIBLE_PAIRS",
    "NULL",
    "NULL_ZAP",
    "SOCKET_TYPES",
    "ConnectionPair",
    "MechanismKit",
    "ZmtpError",
    "all_kits",
    "greeting_of",
    "buffered_bytes",
    "curve_kit",
    "messages",
    "null_conn",
    "of_type",
    "plain_kit",
    "raw_command",
    "raw_frame",
    "raw_greeting",
    "raw_message",
    "raw_null_peer",
    "raw_ready",
    "sent_commands",
    "split_commands",
    "split_greeting",
    "traffic_conn",
    "whole_greeting",
    "zap_allow",
]
