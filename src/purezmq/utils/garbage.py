"""pyzmq's ``zmq.utils.garbage``: the holder of objects lent to libzmq by zero-copy sends.

pyzmq keeps such an object alive until libzmq's free callback reaches a thread over an
inproc socket.  purezmq lends no memory to another layer (a send has taken what it needs
when it returns), so an object stored here is released at once: :meth:`GarbageCollector.
store` signals the event right away, and no thread or socket is ever started.
"""

from __future__ import annotations

import os
from threading import Event, Lock, Thread
from typing import Any, Final, NamedTuple


class gcref(NamedTuple):
    """An object held for a send, and the event to signal when it is released."""

    obj: object
    event: Event | None


class GarbageCollectorThread(Thread):
    """pyzmq's collection thread; purezmq never needs to run one (kept for the name)."""

    def __init__(self, gc: GarbageCollector) -> None:
        super().__init__(daemon=True)
        self.gc = gc
        self.pid = os.getpid()
        self.ready = Event()

    def run(self) -> None:
        self.ready.set()


class GarbageCollector:
    """pyzmq's GarbageCollector interface; objects are released as soon as stored."""

    url = "inproc://pyzmq.gc.01"

    def __init__(self, context: Any = None) -> None:
        self.refs: dict[int, gcref] = {}
        self.pid: int | None = None
        self.thread: GarbageCollectorThread | None = None
        self._context = context
        self._lock = Lock()

    @property
    def context(self) -> Any:
        if self._context is None:
            import purezmq

            self._context = purezmq.Context()
        return self._context

    @context.setter
    def context(self, ctx: Any) -> None:
        self._context = ctx

    def start(self) -> None:
        """Nothing to start (see the module docstring)."""
        self.pid = os.getpid()

    def stop(self) -> None:
        """Nothing to stop."""

    def is_alive(self) -> bool:
        """False: there is no collection thread."""
        return False

    def store(self, obj: object, event: Event | None = None) -> int:
        """Take ``obj`` for a zero-copy send and release it at once, setting ``event``;
        returns the key pyzmq would use."""
        ref = gcref(obj, event)
        if event is not None:
            event.set()
        return id(ref)


gc: Final[GarbageCollector] = GarbageCollector()
