"""An event loop on a background thread, with the asyncio loop's method names.

The stream engine, listener and connecter are written against this small interface
(``add_reader``, ``remove_reader``, ``add_writer``, ``remove_writer``, ``call_soon``,
``call_soon_threadsafe``, ``call_later``, ``time``), so the same code can later run on a
running asyncio loop.  Cross-thread calls go through a deque plus a wake-up socket that is
written only when the deque goes from empty to non-empty.
"""

from __future__ import annotations

import heapq
import logging
import selectors
import time
from collections import deque
from collections.abc import Callable

from purezmq.io import native
from purezmq.io.native import get_ident

log = logging.getLogger("purezmq")


def _cancelled_call() -> None:
    return None


class TimerHandle:
    """A scheduled call; ``cancel()`` makes it a no-op.

    A cancelled handle stays in its heap until its time comes (a handshake timer: 30 s), so
    ``cancel()`` drops the callback (and the engine, socket... it holds) at once, and tells
    its reactor, which rebuilds the heap when cancelled handles are most of it.
    """

    __slots__ = ("when", "callback", "cancelled", "owner")

    def __init__(self, when: float, callback: Callable[[], None], owner=None) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self.owner = owner

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self.callback = _cancelled_call
            if self.owner is not None:
                self.owner._cancelled += 1

    def __lt__(self, other: TimerHandle) -> bool:
        return self.when < other.when


class Reactor:
    """One I/O thread: selectors for file descriptors, a heap of timers, a call queue."""

    def __init__(self, name: str = "purezmq-io") -> None:
        # An OS thread sleeping in the kernel, even under gevent's monkey-patching (native).
        self._sel = native.default_selector()
        self._calls: deque[Callable[[], None]] = deque()
        self._timers: list[TimerHandle] = []
        self._cancelled = 0  # cancelled handles still in _timers (see TimerHandle)
        self._rsock, self._wsock = native.socketpair()
        self._rsock.setblocking(False)
        self._wsock.setblocking(False)
        self._sleeping = False
        self._readers: dict[int, Callable[[], None]] = {}
        self._writers: dict[int, Callable[[], None]] = {}
        self._sel.register(self._rsock, selectors.EVENT_READ)
        self._stopping = False
        self._thread = native.thread(self._run, name)
        self._thread.start()
        self.time = time.monotonic

    # -- scheduling --------------------------------------------------------------------
    def in_thread(self) -> bool:
        return get_ident() == self._thread.ident

    def call_soon(self, callback: Callable[[], None]) -> None:
        self._calls.append(callback)

    def call_soon_threadsafe(self, callback: Callable[[], None]) -> None:
        calls = self._calls
        calls.append(callback)
        if self._sleeping:
            # Clear, then write (never the other way: a late clear would hide the loop's
            # next sleep from every later caller, and it would never wake again).
            self._sleeping = False
            try:
                self._wsock.send(b"\x00")
            except (BlockingIOError, OSError):
                pass

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Only from the I/O thread (or before it touches the timer, via call_soon_threadsafe)."""
        handle = TimerHandle(time.monotonic() + max(delay, 0.0), callback, self)
        heapq.heappush(self._timers, handle)
        return handle

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        handle = TimerHandle(when, callback, self)
        heapq.heappush(self._timers, handle)
        return handle

    # -- file descriptors (I/O thread only) -------------------------------------------
    def _update(self, fd: int) -> None:
        events = (selectors.EVENT_READ if fd in self._readers else 0) | (
            selectors.EVENT_WRITE if fd in self._writers else 0
        )
        try:
            key = self._sel.get_key(fd)
        except KeyError:
            if events:
                self._sel.register(fd, events)
            return
        if events == 0:
            self._sel.unregister(fd)
        elif key.events != events:
            self._sel.modify(fd, events)

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        self._readers[fd] = callback
        self._update(fd)

    def remove_reader(self, fd: int) -> None:
        if self._readers.pop(fd, None) is not None:
            self._update(fd)

    def add_writer(self, fd: int, callback: Callable[[], None]) -> None:
        self._writers[fd] = callback
        self._update(fd)

    def remove_writer(self, fd: int) -> None:
        if self._writers.pop(fd, None) is not None:
            self._update(fd)

    # -- the loop ------------------------------------------------------------------------
    def stop(self, wait: bool = True) -> None:
        """Stop the loop after the queued calls; join the thread unless we are it."""
        def _stop() -> None:
            self._stopping = True

        self.call_soon_threadsafe(_stop)
        if wait and not self.in_thread():
            self._thread.join(timeout=10)

    def _run_calls(self) -> None:
        calls = self._calls
        for _ in range(len(calls)):
            cb = calls.popleft()
            try:
                cb()
            except Exception:  # a bug in one callback must not kill the I/O thread
                log.exception("purezmq: error in I/O callback")

    def _run(self) -> None:
        sel = self._sel
        rfd = self._rsock.fileno()
        timers = self._timers
        calls = self._calls
        while not self._stopping:
            self._run_calls()
            now = time.monotonic()
            while timers and timers[0].when <= now:
                t = heapq.heappop(timers)
                if t.cancelled:
                    self._cancelled -= 1
                else:
                    try:
                        t.callback()
                    except Exception:
                        log.exception("purezmq: error in timer callback")
                t = None  # keep nothing alive while asleep (a closed engine and its buffers)
            if self._cancelled > 256 and self._cancelled * 2 > len(timers):
                # Connection churn cancels timers far faster than they expire: compact.
                timers[:] = [t for t in timers if not t.cancelled]
                heapq.heapify(timers)
                self._cancelled = 0
            if calls or self._stopping:  # stop() ran in _run_calls: do not sleep on a timer
                timeout: float | None = 0
            elif timers:
                timeout = max(0.0, timers[0].when - time.monotonic())
            else:
                timeout = None
            if timeout != 0:
                self._sleeping = True
                if calls:  # a call arrived between the check and the flag
                    self._sleeping = False
                    timeout = 0
            try:
                ready = sel.select(timeout)
            except InterruptedError:
                continue
            self._sleeping = False
            for key, mask in ready:
                fd = key.fd
                if fd == rfd:
                    try:
                        while self._rsock.recv(4096):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                    continue
                if mask & selectors.EVENT_READ:
                    cb = self._readers.get(fd)
                    if cb is not None:
                        try:
                            cb()
                        except Exception:
                            log.exception("purezmq: error in reader callback")
                if mask & selectors.EVENT_WRITE:
                    cb = self._writers.get(fd)
                    if cb is not None:
                        try:
                            cb()
                        except Exception:
                            log.exception("purezmq: error in writer callback")
                cb = None  # (as ``t`` above: the last callback must not outlive its call)
            ready = None
        self._run_calls()
        sel.close()
        self._rsock.close()
        self._wsock.close()

