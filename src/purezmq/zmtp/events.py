"""Events a :class:`ZmtpConnection` returns, named as facts.

A received message is not wrapped in an event: it is delivered as a plain ``list`` of
frames, so the per-message path allocates nothing more than the frames themselves.
Everything else is one of the frozen value classes below.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

_set = object.__setattr__  # how the frozen classes set their fields in __init__


class _Event:
    """A frozen value whose fields are its ``__slots__`` (set once, in its own ``__init__``):
    what ``@dataclass(frozen=True, slots=True)`` gives (``==``, ``hash``, ``repr``,
    ``__match_args__``, immutability), without importing :mod:`dataclasses`, which cost more
    than the rest of ``import purezmq``."""

    __slots__ = ()
    _fields: Any = None  # attrgetter of every field, made per class

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__match_args__ = cls.__slots__
        getter = attrgetter(*cls.__slots__)  # a tuple of the fields when there are several
        cls._fields = staticmethod(getter if len(cls.__slots__) > 1 else
                                   (lambda obj: (getter(obj),)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen event")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a frozen event")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields(self) == self._fields(other)

    def __hash__(self) -> int:
        return hash(self._fields(self))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__qualname__}({fields})"


class HandshakeSucceeded(_Event):
    """Greeting and security handshake are complete; traffic may flow."""

    __slots__ = ("peer_properties", "peer_minor_version", "user_id")
    peer_properties: dict[str, bytes]
    peer_minor_version: int
    user_id: bytes

    def __init__(self, peer_properties: dict[str, bytes] | None = None,
                 peer_minor_version: int = 1, user_id: bytes = b"") -> None:
        _set(self, "peer_properties", {} if peer_properties is None else peer_properties)
        _set(self, "peer_minor_version", peer_minor_version)
        _set(self, "user_id", user_id)


class ZapRequested(_Event):
    """The server side needs a ZAP answer before it can finish the handshake (RFC 27)."""

    __slots__ = ("mechanism", "credentials")
    mechanism: bytes
    credentials: list[bytes]

    def __init__(self, mechanism: bytes, credentials: list[bytes]) -> None:
        _set(self, "mechanism", mechanism)
        _set(self, "credentials", credentials)


class PeerErrorReceived(_Event):
    """The peer sent an ERROR command: it will close the connection."""

    __slots__ = ("reason",)
    reason: str

    def __init__(self, reason: str) -> None:
        _set(self, "reason", reason)


class Subscription(_Event):
    """A subscribe or cancel travelling from a SUB/XSUB towards a PUB/XPUB.

    The same object travels in pipes, so the pattern code never parses the ``\\x01``/``\\x00``
    message form and the engine can write whichever form the peer's ZMTP version expects.
    """

    __slots__ = ("topic", "subscribe")
    topic: bytes
    subscribe: bool

    def __init__(self, topic: bytes, subscribe: bool = True) -> None:
        _set(self, "topic", topic)
        _set(self, "subscribe", subscribe)


class GroupMembership(_Event):
    """A JOIN or LEAVE of a RADIO-DISH group travelling from a DISH towards a RADIO (RFC 48;
    on the wire the ZMTP 3.1 commands ``JOIN`` / ``LEAVE`` whose body is the group)."""

    __slots__ = ("group", "join")
    group: bytes
    join: bool

    def __init__(self, group: bytes, join: bool = True) -> None:
        _set(self, "group", group)
        _set(self, "join", join)


class PipeMarker:
    """An outbound pipe item that tells the engine something (it has no wire form):
    :meth:`ZmtpConnection.encode_queue` stops at one and returns it."""

    __slots__ = ()
