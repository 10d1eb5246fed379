"""A one-way message queue between two threads, with high- and low-water marks.

Theory of operation.  A :class:`Pipe` has exactly one writer and one reader, usually in
different threads (a socket in the caller's thread, an engine in the I/O thread; or two
sockets for inproc).  The queue is a :class:`collections.deque`, whose ``append`` and
``popleft`` are atomic under the GIL, so the hot path takes no lock.

Wake-ups happen only on edges, through two flags with a double check:

* ``armed``: the reader found the queue empty and wants to hear about the next message.
  A writer that appends and sees ``armed`` clears it and calls ``on_readable(pipe)``.
  The reader sets ``armed`` *then* looks at the queue again, so a message appended
  in between is never missed (at worst a wake-up is spurious, which readers tolerate).
* ``writer_blocked``: the writer found the queue at its high-water mark.  A reader that
  pops below the low-water mark clears it and calls ``on_writable(pipe)``.

Threads and ownership (the rule that holds without the GIL). The pipe belongs to its two
ends: only the writer appends, only the reader pops; either may clear a flag, and a flag
cleared by both costs at most a spurious wake-up. What must never happen is a *lost*
wake-up: the writer appends and reads ``armed`` as False while the reader, having set
``armed``, reads the queue as empty. Each side writes one location and then reads the
other, the pattern where a weakly ordered machine may reorder the store after the load.
Under the GIL every bytecode is sequentially consistent and nothing more is needed.
Without it (free-threaded CPython), every ``deque`` method runs under the deque's own lock
(a per-object critical section), so this module makes each side's second step happen
*after* a deque method: the writer's is its ``append`` itself, and the reader's re-check
after arming follows a ``rotate(0)``, which changes nothing (``popleft`` in :meth:`read`).
Either the writer's append held the deque's lock before the reader's re-check did (the
reader sees the item), or after (the reader's store to ``armed`` happened before it and
the writer sees it). ``writer_blocked`` follows the same rule with the roles swapped
(:meth:`full` re-checks after a ``rotate(0)``; the reader's ``popleft`` comes before it
reads the flag). No lock is taken per message: only the arming and blocking edges call a
deque method they would not otherwise call (about 50 ns each on CPython 3.11). Code
outside this module that open-codes the writer's side (``patterns/strategies.py``) keeps
the order append, then read ``armed``; code that open-codes the reader's side calls
:meth:`rearm`.

Items are whole messages (a one-frame message as its ``bytes``, a longer one as a
``list`` of frames: no container, and nothing for the garbage collector, per message in
the common case) or control items such as :class:`purezmq.zmtp.events.Subscription`; a
pipe never splits a message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


def _nothing(pipe: Pipe) -> None:
    return None


def is_message(item) -> bool:
    """True for a pipe item that is a message (not a control item)."""
    cls = item.__class__
    return cls is bytes or cls is list


def as_frames(item) -> list:
    """A message item as a list of frames."""
    return item if item.__class__ is list else [item]


class Pipe:
    """One direction of a connection between a socket and its peer."""

    __slots__ = (
        "q",
        "hwm",
        "lwm",
        "armed",
        "writer_blocked",
        "on_readable",
        "on_writable",
        "closed",
        "__weakref__",
    )

    def __init__(self, hwm: int = 1000) -> None:
        self.q: deque = deque()
        self.set_hwm(hwm)
        self.armed = True
        self.writer_blocked = False
        self.on_readable: Callable[[Pipe], None] = _nothing
        self.on_writable: Callable[[Pipe], None] = _nothing
        self.closed = False

    def set_hwm(self, hwm: int) -> None:
        """``hwm`` <= 0 means no limit, as in libzmq."""
        self.hwm = hwm if hwm > 0 else 0
        self.lwm = (self.hwm + 1) // 2 if self.hwm else 0

    # -- writer side -------------------------------------------------------------------
    def full(self) -> bool:
        """True (and ask for a wake-up) when a write would pass the high-water mark."""
        hwm = self.hwm
        if hwm and len(self.q) >= hwm:
            self.writer_blocked = True
            q = self.q
            q.rotate(0)  # a deque method before the re-check (see the module docstring)
            if len(q) >= hwm:
                return True
            self.writer_blocked = False
        return False

    def write(self, item) -> None:
        """Append one item (the caller checked :meth:`full` if it cares about the mark)."""
        self.q.append(item)
        if self.armed:
            self.armed = False
            self.on_readable(self)

    def write_many(self, items) -> None:
        """Append a batch with a single wake-up."""
        self.q.extend(items)
        if self.armed and self.q:
            self.armed = False
            self.on_readable(self)

    # -- reader side -------------------------------------------------------------------
    def read(self):
        """Pop one item, or None when empty (then the pipe is armed for the next one)."""
        q = self.q
        try:
            item = q.popleft()
        except IndexError:
            self.armed = True
            try:  # the re-check is a deque method (see the module docstring)
                item = q.popleft()
            except IndexError:
                return None
            self.armed = False
        if self.writer_blocked and len(q) <= self.lwm:
            self.writer_blocked = False
            self.on_writable(self)
        return item

    def rearm(self) -> bool:
        """Arm for the next item; True if an item is already there (then stay disarmed)."""
        self.armed = True
        q = self.q
        q.rotate(0)  # a deque method before the re-check (see the module docstring)
        if q:
            self.armed = False
            return True
        return False

    def released(self) -> None:
        """Tell a blocked writer the reader took items out (after a batch of pops)."""
        if self.writer_blocked and len(self.q) <= self.lwm:
            self.writer_blocked = False
            self.on_writable(self)

    def __len__(self) -> int:
        return len(self.q)


class ConflatePipe(Pipe):
    """``CONFLATE``: keep only the newest item; a writer never blocks."""

    __slots__ = ()

    def full(self) -> bool:
        return False

    def write(self, item) -> None:
        q = self.q
        q.clear()
        q.append(item)
        if self.armed:
            self.armed = False
            self.on_readable(self)

    def write_many(self, items) -> None:
        if items:
            self.write(items[-1])


class Peer:
    """A socket's view of one connected peer: the pipe in each direction and its identity.

    For tcp and ipc the other end of both pipes is a stream engine (through a session that
    outlives reconnects); for inproc it is the peer socket's own :class:`Peer`.
    """

    __slots__ = (
        "inp",
        "out",
        "routing_id",
        "properties",
        "active",
        "attached",
        "endpoint",
        "session",
        "user_id",
        "attached_early",
        "follow",
        "__weakref__",
    )

    def __init__(self, inp: Pipe, out: Pipe, endpoint: str = "") -> None:
        self.inp = inp
        self.out = out
        self.routing_id: bytes = b""
        self.properties: dict[str, bytes] = {}
        self.active = True  # the pattern may send to it
        self.attached = False
        self.endpoint = endpoint
        self.session = None
        self.user_id = b""
        self.attached_early = False  # created at connect(), survives reconnects
        # A publisher's shared log this peer's engine reads instead of ``out`` for now
        # (plumbing/fanout.py); set and cleared by the engine, so it survives reconnects.
        self.follow = None

    def __repr__(self) -> str:
        rid = self.routing_id
        return f"<Peer {self.endpoint} id={rid!r} in={len(self.inp)} out={len(self.out)}>"
