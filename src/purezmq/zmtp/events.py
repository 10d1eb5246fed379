"""Events a :class:`ZmtpConnection` returns, named as facts.

A received message is not wrapped in an event: it is delivered as a plain ``list`` of
frames, so the per-message path allocates nothing more than the frames themselves.
Everything else is one of the frozen dataclasses below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from purezmq._compat import DATACLASS_SLOTS


@dataclass(frozen=True, **DATACLASS_SLOTS)
class HandshakeSucceeded:
    """Greeting and security handshake are complete; traffic may flow."""

    peer_properties: dict[str, bytes] = field(default_factory=dict)
    peer_minor_version: int = 1
    user_id: bytes = b""


@dataclass(frozen=True, **DATACLASS_SLOTS)
class ZapRequested:
    """The server side needs a ZAP answer before it can finish the handshake (RFC 27)."""

    mechanism: bytes
    credentials: list[bytes]


@dataclass(frozen=True, **DATACLASS_SLOTS)
class PeerErrorReceived:
    """The peer sent an ERROR command: it will close the connection."""

    reason: str


@dataclass(frozen=True, **DATACLASS_SLOTS)
class Subscription:
    """A subscribe or cancel travelling from a SUB/XSUB towards a PUB/XPUB.

    The same object travels in pipes, so the pattern code never parses the ``\\x01``/``\\x00``
    message form and the engine can write whichever form the peer's ZMTP version expects.
    """

    topic: bytes
    subscribe: bool = True


@dataclass(frozen=True, **DATACLASS_SLOTS)
class GroupMembership:
    """A JOIN or LEAVE of a RADIO-DISH group travelling from a DISH towards a RADIO (RFC 48;
    on the wire the ZMTP 3.1 commands ``JOIN`` / ``LEAVE`` whose body is the group)."""

    group: bytes
    join: bool = True


class PipeMarker:
    """An outbound pipe item that tells the engine something (it has no wire form):
    :meth:`ZmtpConnection.encode_queue` stops at one and returns it."""

    __slots__ = ()
