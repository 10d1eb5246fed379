"""Events a :class:`ZmtpConnection` returns, named as facts.

A received message is not wrapped in an event: it is delivered as a plain ``list`` of
frames, so the per-message path allocates nothing more than the frames themselves.
Everything else is one of the frozen value classes below.
"""

from __future__ import annotations

from typing import Any, ClassVar


class _Event:
    """A frozen value with the fields named by ``__slots__`` (in order): what
    ``@dataclass(frozen=True, slots=True)`` gives (init by position or keyword, defaults,
    ``==``, ``hash``, ``repr``, ``__match_args__``, immutability), without importing
    :mod:`dataclasses`, which costs more than the rest of ``import purezmq`` saves."""

    __slots__ = ()
    #: field -> default; a ``list``/``dict`` class stands for a fresh empty one per event
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__match_args__ = cls.__slots__

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self.__slots__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}() takes {len(names)} arguments")
        values = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names or key in values:
                raise TypeError(f"{type(self).__name__}() got an unexpected or repeated "
                                f"argument {key!r}")
            values[key] = value
        for name in names:
            if name not in values:
                if name not in self._defaults:
                    raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
                default = self._defaults[name]
                values[name] = default() if default in (dict, list) else default
            object.__setattr__(self, name, values[name])

    def _fields(self) -> tuple:
        return tuple(getattr(self, n) for n in self.__slots__)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen event")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a frozen event")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__qualname__}({fields})"


class HandshakeSucceeded(_Event):
    """Greeting and security handshake are complete; traffic may flow."""

    __slots__ = ("peer_properties", "peer_minor_version", "user_id")
    _defaults = {"peer_properties": dict, "peer_minor_version": 1, "user_id": b""}
    peer_properties: dict[str, bytes]
    peer_minor_version: int
    user_id: bytes


class ZapRequested(_Event):
    """The server side needs a ZAP answer before it can finish the handshake (RFC 27)."""

    __slots__ = ("mechanism", "credentials")
    mechanism: bytes
    credentials: list[bytes]


class PeerErrorReceived(_Event):
    """The peer sent an ERROR command: it will close the connection."""

    __slots__ = ("reason",)
    reason: str


class Subscription(_Event):
    """A subscribe or cancel travelling from a SUB/XSUB towards a PUB/XPUB.

    The same object travels in pipes, so the pattern code never parses the ``\\x01``/``\\x00``
    message form and the engine can write whichever form the peer's ZMTP version expects.
    """

    __slots__ = ("topic", "subscribe")
    _defaults = {"subscribe": True}
    topic: bytes
    subscribe: bool


class GroupMembership(_Event):
    """A JOIN or LEAVE of a RADIO-DISH group travelling from a DISH towards a RADIO (RFC 48;
    on the wire the ZMTP 3.1 commands ``JOIN`` / ``LEAVE`` whose body is the group)."""

    __slots__ = ("group", "join")
    _defaults = {"join": True}
    group: bytes
    join: bool


class PipeMarker:
    """An outbound pipe item that tells the engine something (it has no wire form):
    :meth:`ZmtpConnection.encode_queue` stops at one and returns it."""

    __slots__ = ()
