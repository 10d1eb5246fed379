"""``Frame`` (alias ``Message``) and ``MessageTracker`` as pyzmq has them."""

from __future__ import annotations

import threading
from typing import Any

from purezmq import constants as C
from purezmq.error import NotDone, ZMQError


class MessageTracker:
    """Tracks whether sent frames are done with.  purezmq copies nothing it keeps after
    the send returns from the caller's view, so a tracker is done at once."""

    def __init__(self, *towatch: Any) -> None:
        self._event = threading.Event()
        self._event.set()

    @property
    def done(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | int = -1) -> None:
        if timeout is not None and timeout >= 0:
            if not self._event.wait(timeout):
                raise NotDone
        else:
            self._event.wait()


_DONE = MessageTracker()


class Frame(bytearray):
    """One message frame, with the peer's properties when it was received.

    A Frame *is* a buffer on every Python, as pyzmq's: ``memoryview(frame)`` works, and
    its buffer is writable (``frame.buffer.readonly`` is False, as pyzmq's).  Python
    classes export the buffer protocol themselves (``__buffer__``) only from 3.12; before
    that, a class exports a buffer only by inheriting one from a built-in type.  The
    payload arrives as ``bytes``, which no Python-level object can export again without
    being a ``bytes`` itself (immutable: pyzmq's buffer is writable, and ``Frame ==
    b"x"`` must stay False).  So a Frame is a ``bytearray`` holding the payload: one
    ``memcpy`` when it is made (C speed; it was made from ``bytes`` anyway), then
    ``frame.buffer`` / ``memoryview(frame)`` are views of that memory (no copy) and
    ``frame.bytes`` is copied once, on first use, and cached (as pyzmq caches it).

    What is bytearray's and not pyzmq's stays hidden where pyzmq behaves differently:
    equality and hashing are by identity, ``frame[key]`` is ``frame.get(key)``, and the
    bytearray methods are there but are not part of the API.
    """

    __slots__ = (
        "_bytes", "more", "tracker", "tracker_event", "_props", "routing_id", "group",
        "__weakref__",
    )

    def __init__(
        self, data: Any = None, track: bool = False, copy: bool | None = None,
        copy_threshold: int | None = None, **kwargs: Any,
    ) -> None:
        if data is None:
            data = b""
        elif isinstance(data, str):
            raise TypeError("Str objects not allowed. Only: bytes, buffer interfaces.")
        elif data.__class__ is not bytes and data.__class__ is not bytearray:
            data = memoryview(data)  # a buffer only (bytearray would take ints, lists...)
            if not data.contiguous:
                raise BufferError("memoryview: underlying buffer is not contiguous")
        bytearray.__init__(self, data)  # one copy of the payload (see the class docstring)
        self._bytes = None  # .bytes, once asked for
        self.more = False
        self.tracker = MessageTracker() if track else None
        self.tracker_event = None
        self._props: dict[str, bytes] | None = None
        self.routing_id = None
        self.group = None

    @property
    def bytes(self) -> bytes:
        """The payload as ``bytes`` (copied on first use, then cached, as pyzmq's)."""
        b = self._bytes
        if b is None:
            b = self._bytes = memoryview(self).tobytes()
        return b

    @property
    def _data(self) -> bytes:
        """What a send takes: the payload as it is now (written-to or not)."""
        return memoryview(self).tobytes()

    @property
    def buffer(self) -> memoryview:
        """A writable memoryview of the payload (no copy)."""
        return memoryview(self)

    def __bytes__(self) -> bytes:
        return self.bytes

    # Identity, as pyzmq's Frame (bytearray would compare and refuse to hash by content).
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    def __lt__(self, other: object) -> bool:
        return NotImplemented

    # No content ordering or arithmetic either (pyzmq: TypeError).
    __le__ = __gt__ = __ge__ = __add__ = __radd__ = __iadd__ = __lt__
    __mul__ = __rmul__ = __imul__ = __lt__

    def __getitem__(self, key: Any) -> Any:
        return self.get(key)  # pyzmq: ``frame['User-Id']``, ``frame[zmq.MORE]``

    def __copy__(self) -> Frame:
        f = Frame(self.bytes)
        f.more = self.more
        f._props = self._props
        f.routing_id = self.routing_id
        f.group = self.group
        return f

    fast_copy = __copy__

    def __reduce_ex__(self, protocol: Any) -> Any:  # pyzmq's Frame does not pickle either
        raise TypeError("a Frame cannot be pickled: pickle frame.bytes")

    def get(self, option: int | str) -> int | str | None:
        """``MORE``, or a property of the peer: ``"User-Id"``, ``"Peer-Address"``, ..."""
        if option == "routing_id" or option == "group":  # the draft API's, as pyzmq
            value = getattr(self, option)
            if value is None:
                if option == "group":
                    return ""
                raise ZMQError(C.EINVAL)
            return value
        if isinstance(option, str):
            props = self._props or {}
            lname = option.lower()
            for key, value in props.items():
                if key.lower() == lname:
                    return value.decode("utf-8", "replace")
            raise ZMQError(C.EINVAL)
        if option == C.MORE:
            return int(self.more)
        if option == C.SHARED:
            return 0
        if option == C.SRCFD:
            return -1
        raise ZMQError(C.EINVAL)

    def set(self, option: int | str, value: Any) -> None:
        if option == "routing_id":
            from purezmq.patterns.draft import check_routing_id

            self.routing_id = check_routing_id(value)
            return
        if option == "group":
            from purezmq.patterns.draft import group_bytes, group_str

            self.group = group_str(group_bytes(value))
            return
        raise ZMQError(C.EINVAL)

    def __repr__(self) -> str:
        data = self.bytes
        shown = data if len(data) <= 32 else data[:29] + b"..."
        return f"<purezmq.Frame({shown!r}{', more' if self.more else ''})>"

    __str__ = __repr__


Message = Frame

__all__ = ["Frame", "Message"]
