"""One shared outbound queue for a publisher's subscribers to everything.

Why.  A PUB with N subscribers to everything would otherwise append each message to N
pipes and encode it N times: with 16 subscribers that was ~4 us of the publisher's CPU
per message.  Instead, a message goes once, already in its ZMTP wire form, into a
:class:`FanoutLog`, and each subscriber's engine keeps its own place in it
(:class:`LogReader`): per message the publisher does one append, and per peer an engine
does one slice, join and ``send()`` per batch.

Theory of operation.  The log is a chain of :class:`Block` lists.  The writer (the
socket's thread) appends to the last block and links a new one when it is full; readers
(engines, on the I/O thread or a caller's thread holding the engine's lock) hold a
reference to their block and an offset, so a block nobody reads any more is freed by
reference counting and nothing is ever trimmed under a reader.  ``list.append`` and a
slice are atomic under the GIL, and a block is linked to its successor only after its
last append, so a reader that sees ``next`` re-reads the length once and never misses an
item.

A peer joins the log by a :class:`Follow` marker in its own pipe, so everything queued
for it before (a welcome message, messages of a narrower subscription) goes out first; it
leaves at a ``stop`` position and its engine goes back to the pipe there (``done``),
where the writer has queued what came after.  A new join after a leave is a new reader.
A reader that leaves is cut loose from the chain (it keeps what it still has to send up
to its stop in a private block), so a stuck peer does not keep the log alive behind it.

High-water mark: a reader's lag is ``seq - pos`` (messages published, minus those its
engine took).  The writer rescans the readers only when its ``room`` (messages it may
publish before the slowest reader could reach the mark) runs out.  At the mark, with
``XPUB_NODROP`` the send fails (the socket waits for ``on_writable``, which the slowest
reader's engine calls when it takes more); without, the laggard is parked: it leaves at
that position, loses messages until its engine has sent everything up to there, and then
rejoins.  (libzmq drops only while the pipe is full; a parked reader drops until it has
drained, so a slow subscriber may lose a few more messages than with libzmq.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from purezmq.zmtp.events import PipeMarker
from purezmq.zmtp.frames import SHORT_HEADERS, encode_messages, frame_header

BLOCK_MSGS = 1024
BLOCK_BYTES = 1 << 17  # a reader takes at most one block per write: ~128 KiB


def wire_form(msg) -> bytes:
    """A message (``bytes`` or list of frames) as its ZMTP frames, in one buffer."""
    if msg.__class__ is bytes:
        n = len(msg)
        return (SHORT_HEADERS[n] if n < 256 else frame_header(0, n)) + msg
    out: list = []
    encode_messages((msg,), out)
    return b"".join(out)


class Block:
    __slots__ = ("items", "next", "size")

    def __init__(self) -> None:
        self.items: list[bytes] = []
        self.next: Block | None = None
        self.size = 0


class Follow(PipeMarker):
    """Pipe marker: from here on, the peer's messages are in ``reader``'s log."""

    __slots__ = ("reader",)

    def __init__(self, reader: LogReader) -> None:
        self.reader = reader


def _nothing() -> None:
    return None


class LogReader:
    """One peer's place in a :class:`FanoutLog`; its engine calls :meth:`take`."""

    __slots__ = ("log", "peer", "block", "off", "pos", "stop", "done", "dropping", "lock")

    def __init__(self, log: FanoutLog, peer) -> None:
        self.log = log
        self.peer = peer
        # Taken once per batch by the engine, and by the writer when it cuts a leaving
        # reader loose from the shared chain (see :meth:`FanoutLog.leave`).
        self.lock = threading.Lock()
        self.block = log.tail
        self.off = len(log.tail.items)
        self.pos = log.seq  # messages taken, counted from the log's start
        self.stop: int | None = None  # leave the log at this position (writer sets it)
        self.done = False  # the engine reached ``stop`` and went back to the pipe
        self.dropping = False  # parked at the mark: the peer loses messages until done

    def take(self) -> list | None:
        """The next run of wire buffers (at most one block's worth), or None."""
        with self.lock:
            chunk = self._take()
        if chunk is not None:
            log = self.log
            if log.blocked_on is self:
                log.blocked_on = None
                log.on_writable()
        return chunk

    def _take(self) -> list | None:
        blk = self.block
        off = self.off
        items = blk.items
        n = len(items)
        if off >= n:
            nxt = blk.next
            if nxt is None:
                return None
            n = len(items)  # appended just before the block was sealed?
            if off >= n:
                blk = self.block = nxt
                off = 0
                items = nxt.items
                n = len(items)
                if not n:
                    self.off = 0
                    return None
        stop = self.stop
        if stop is not None:
            left = stop - self.pos
            if left <= 0:
                return None
            if n - off > left:
                n = off + left
        chunk = items[off:n]
        self.off = n
        self.pos += n - off
        return chunk

    def pending(self) -> bool:
        """True if :meth:`take` would return something."""
        with self.lock:
            stop = self.stop
            if stop is not None and self.pos >= stop:
                return False
            blk = self.block
            if self.off < len(blk.items):
                return True
            nxt = blk.next  # (a block is linked only after its last append: see take)
            return nxt is not None and (self.off < len(blk.items) or bool(nxt.items))

    def cut_loose(self) -> None:
        """Writer, once ``stop`` is set: keep the messages up to it in a private block, so
        that a reader whose peer is stuck does not keep the whole log after it alive."""
        with self.lock:
            left = self.stop - self.pos
            blk, off = self.block, self.off
            items: list = []
            while left > 0 and blk is not None:
                chunk = blk.items[off : off + left]
                items += chunk
                left -= len(chunk)
                blk, off = blk.next, 0
            own = Block()
            own.items = items
            self.block = own
            self.off = 0

    def arm(self) -> bool:
        """Ask for a wake-up at the next publish; True if something is already there."""
        self.log.waiting.append(self)
        return self.pending()

    def wake(self) -> None:
        out = self.peer.out
        out.on_readable(out)


class FanoutLog:
    """The writer's side: see the module docstring."""

    __slots__ = ("tail", "seq", "waiting", "readers", "draining", "hwm", "room",
                 "blocked_on", "on_writable")

    def __init__(self, hwm: int, on_writable: Callable[[], None] = _nothing) -> None:
        self.tail = Block()
        self.seq = 0
        self.waiting: list[LogReader] = []  # caught-up readers to wake at the next publish
        self.readers: dict[object, LogReader] = {}  # peer -> its reader, while it follows
        self.draining: dict[object, LogReader] = {}  # peer -> a reader that left, until done
        self.hwm = hwm
        self.room = 0  # messages that may go in before the next look at the readers
        self.blocked_on: LogReader | None = None
        self.on_writable = on_writable

    def set_hwm(self, hwm: int) -> None:
        self.hwm = hwm if hwm > 0 else 0
        self.room = 0

    # -- membership (the socket's thread) ---------------------------------------------------
    def join(self, peer) -> None:
        """``peer`` follows the log from the next message on."""
        reader = LogReader(self, peer)
        self.readers[peer] = reader
        self.room = 0
        peer.out.write(Follow(reader))

    def leave(self, peer, dropping: bool = False) -> LogReader | None:
        """``peer`` stops following after what is in the log now."""
        reader = self.readers.pop(peer, None)
        if reader is None:
            return None
        reader.dropping = dropping
        reader.stop = self.seq
        reader.cut_loose()
        self.draining[peer] = reader
        if self.blocked_on is reader:
            self.blocked_on = None
        return reader

    def forget(self, peer) -> None:
        """``peer`` is gone."""
        reader = self.readers.pop(peer, None) or self.draining.pop(peer, None)
        if reader is not None and self.blocked_on is reader:
            self.blocked_on = None

    def settled(self) -> list:
        """Draining readers whose engines reached their stop (they are forgotten)."""
        done = [peer for peer, r in self.draining.items() if r.done]
        for peer in done:
            del self.draining[peer]
        return done

    # -- publishing (the socket's thread) ---------------------------------------------------
    def make_room(self, nodrop: bool, yielded: bool = False) -> list | bool:
        """When ``room`` ran out: look at every reader's lag.  True if a message may go in;
        False (nodrop) if the slowest reader is at the mark; else the peers parked now."""
        hwm = self.hwm
        if not hwm:
            self.room = 1 << 62
            return True
        seq = self.seq
        worst = None
        most = 0
        for reader in self.readers.values():
            lag = seq - reader.pos
            if lag >= most:
                most = lag
                worst = reader
        if most < hwm:
            self.room = hwm - most
            return True
        if nodrop:
            # Ask first, then look again: a take() in between must not go unheard.
            self.blocked_on = worst
            if seq - worst.pos >= hwm:
                return False
            self.blocked_on = None
            return self.make_room(nodrop, yielded)
        if not yielded:
            # The engines may just not have had the GIL yet (the writer keeps it for up to
            # sys.getswitchinterval()): let them run once before anyone loses a message.
            time.sleep(0)
            return self.make_room(nodrop, True)
        parked = [p for p, r in self.readers.items() if seq - r.pos >= hwm]
        for peer in parked:
            self.leave(peer, dropping=True)
        self.make_room(nodrop, yielded)
        return parked

    def publish(self, wire: bytes) -> None:
        """Append one message (in wire form) for every reader; wake the idle ones."""
        tail = self.tail
        items = tail.items
        items.append(wire)
        tail.size += len(wire)
        self.room -= 1
        if len(items) >= BLOCK_MSGS or tail.size >= BLOCK_BYTES:
            self.tail = tail.next = Block()  # linked only after its last append
        self.seq += 1
        waiting = self.waiting
        if waiting:
            self.waiting = []
            for reader in waiting:
                reader.wake()
