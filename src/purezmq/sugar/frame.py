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


class Frame:
    """One message frame, with the peer's properties when it was received."""

    __slots__ = (
        "_data", "more", "tracker", "tracker_event", "_props", "routing_id", "group",
        "__weakref__",
    )

    def __init__(
        self, data: Any = None, track: bool = False, copy: bool | None = None,
        copy_threshold: int | None = None, **kwargs: Any,
    ) -> None:
        if data is None:
            data = b""
        elif isinstance(data, Frame):
            data = data._data
        elif isinstance(data, str):
            raise TypeError("Str objects not allowed. Only: bytes, buffer interfaces.")
        elif not isinstance(data, bytes):
            data = bytes(memoryview(data))
        self._data: bytes = data
        self.more = False
        self.tracker = MessageTracker() if track else None
        self.tracker_event = None
        self._props: dict[str, bytes] | None = None
        self.routing_id = None
        self.group = None

    @property
    def bytes(self) -> bytes:
        return self._data

    @property
    def buffer(self) -> memoryview:
        return memoryview(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __bytes__(self) -> bytes:
        return self._data

    def __buffer__(self, flags: int) -> memoryview:
        return memoryview(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Frame):
            return self._data == other._data
        return self._data == other

    def __hash__(self) -> int:
        return hash(self._data)

    def __copy__(self) -> Frame:
        f = Frame(self._data)
        f.more = self.more
        f._props = self._props
        f.routing_id = self.routing_id
        f.group = self.group
        return f

    fast_copy = __copy__

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
        data = self._data
        shown = data if len(data) <= 32 else data[:29] + b"..."
        return f"<purezmq.Frame({shown!r}{', more' if self.more else ''})>"

    __str__ = __repr__


Message = Frame

__all__ = ["Frame", "Message"]
