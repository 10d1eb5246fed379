"""The reactor interface on an asyncio event loop: connections with no I/O thread.

Theory of operation.  The stream engine, listener and session are written against the
small interface of :class:`purezmq.io.reactor.Reactor` (asyncio's method names).  A
:class:`LoopReactor` implements it on the user's running event loop, so the connections of
an ``io_on_loop`` context are driven by the loop itself: no I/O thread, no thread hop and
no wake-up syscall between an engine and an async socket.

The reactor keeps its own registry of readers, writers, timers and queued calls, and only
*mirrors* them onto a loop.  That is what lets it

* exist before any loop runs (a socket bound before ``asyncio.run``: everything is
  recorded and registered when a loop attaches),
* move to a new loop (``asyncio.run`` called again: :meth:`attach` re-registers), and
* be driven synchronously by :meth:`pump` when the loop cannot run: ``ctx.term()`` called
  in the loop's own thread, or after the loop was closed, still flushes lingering
  messages and closes every connection, with the same ``LINGER`` rules as the I/O thread.

Everything but :meth:`call_soon_threadsafe` runs in the thread that drives the reactor
(the loop's, or the pumping one).
"""

from __future__ import annotations

import heapq
import logging
import selectors
import threading
import time
from collections import deque
from collections.abc import Callable

from purezmq.io.reactor import TimerHandle

log = logging.getLogger("purezmq")

_PUMP_SLICE = 0.05  # a pump's longest sleep: calls from other threads wait at most this


class LoopReactor:
    """The reactor interface over an asyncio loop (see the module docstring)."""

    def __init__(self) -> None:
        self._loop = None
        self._tid: int | None = None
        self._calls: deque[Callable[[], None]] = deque()
        self._calls_scheduled = False
        self._timers: list[TimerHandle] = []
        self._timer_handle = None  # the loop's handle for our earliest timer
        self._timer_when: float | None = None
        self._readers: dict[int, Callable[[], None]] = {}
        self._writers: dict[int, Callable[[], None]] = {}
        self._attach_lock = threading.Lock()
        self.time = time.monotonic

    # -- which loop drives us ----------------------------------------------------------
    @property
    def loop(self):
        return self._loop

    def in_thread(self) -> bool:
        return threading.get_ident() == self._tid

    def driven_elsewhere(self, loop) -> bool:
        """Whether a loop other than ``loop`` drives us, running in another thread."""
        old = self._loop
        return (
            old is not None and old is not loop and old.is_running() and not self.in_thread()
        )

    def attach(self, loop) -> bool:
        """Be driven by ``loop`` (called from its thread) from now on, unless a loop
        running in another thread drives us: then leave it (False).  Sockets used from
        ``loop`` still work, through :meth:`call_soon_threadsafe`, as with an I/O thread."""
        if loop is self._loop:
            return True
        with self._attach_lock:
            if self.driven_elsewhere(loop):
                return False
            self._detach()
            self._loop = loop
            self._tid = threading.get_ident()
            for fd, cb in self._readers.items():
                loop.add_reader(fd, cb)
            for fd, cb in self._writers.items():
                loop.add_writer(fd, cb)
            self._schedule_timers()
            self._calls_scheduled = True
            loop.call_soon(self._run_calls)
        return True

    def _detach(self) -> None:
        old = self._loop
        self._loop = None
        if self._timer_handle is not None:
            self._timer_handle.cancel()
            self._timer_handle = None
            self._timer_when = None
        self._calls_scheduled = False
        if old is None or old.is_closed():
            return
        for fd in self._readers:
            old.remove_reader(fd)
        for fd in self._writers:
            old.remove_writer(fd)

    # -- scheduling ------------------------------------------------------------------------
    def call_soon(self, callback: Callable[[], None]) -> None:
        self.call_soon_threadsafe(callback)

    def call_soon_threadsafe(self, callback: Callable[[], None]) -> None:
        self._calls.append(callback)
        if self._calls_scheduled:
            return
        self._calls_scheduled = True
        loop = self._loop
        if loop is None:
            self._calls_scheduled = False  # a pump (or the next attach) will run it
            return
        try:
            if threading.get_ident() == self._tid:
                loop.call_soon(self._run_calls)
            else:
                loop.call_soon_threadsafe(self._run_calls)
        except RuntimeError:  # the loop is closed: a pump will run it
            self._calls_scheduled = False

    def _run_calls(self) -> None:
        self._calls_scheduled = False
        calls = self._calls
        for _ in range(len(calls)):
            cb = calls.popleft()
            try:
                cb()
            except Exception:
                log.exception("purezmq: error in I/O callback")
        if calls and not self._calls_scheduled and self._loop is not None:
            self._calls_scheduled = True
            self._loop.call_soon(self._run_calls)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return self.call_at(time.monotonic() + max(delay, 0.0), callback)

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        """``when`` on ``time.monotonic``'s clock, as the thread reactor has it."""
        handle = TimerHandle(when, callback)
        heapq.heappush(self._timers, handle)
        if self._loop is not None and (self._timer_when is None or when < self._timer_when):
            self._schedule_timers()
        return handle

    def _schedule_timers(self) -> None:
        timers = self._timers
        while timers and timers[0].cancelled:
            heapq.heappop(timers)
        if self._timer_handle is not None:
            self._timer_handle.cancel()
            self._timer_handle = None
            self._timer_when = None
        loop = self._loop
        if not timers or loop is None:
            return
        when = timers[0].when
        self._timer_when = when
        self._timer_handle = loop.call_later(max(0.0, when - time.monotonic()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer_handle = None
        self._timer_when = None
        self._run_timers()
        self._schedule_timers()

    def _run_timers(self) -> None:
        timers = self._timers
        now = time.monotonic()
        while timers and timers[0].when <= now:
            t = heapq.heappop(timers)
            if not t.cancelled:
                try:
                    t.callback()
                except Exception:
                    log.exception("purezmq: error in timer callback")

    # -- file descriptors --------------------------------------------------------------
    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        self._readers[fd] = callback
        if self._loop is not None:
            self._loop.add_reader(fd, callback)

    def remove_reader(self, fd: int) -> None:
        if self._readers.pop(fd, None) is not None:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.remove_reader(fd)

    def add_writer(self, fd: int, callback: Callable[[], None]) -> None:
        self._writers[fd] = callback
        if self._loop is not None:
            self._loop.add_writer(fd, callback)

    def remove_writer(self, fd: int) -> None:
        if self._writers.pop(fd, None) is not None:
            loop = self._loop
            if loop is not None and not loop.is_closed():
                loop.remove_writer(fd)

    # -- when no loop can run ------------------------------------------------------------
    def must_pump(self) -> bool:
        """True when nobody else will drive us: no loop, a closed or stopped one, or we
        are in its thread (blocking it)."""
        loop = self._loop
        return (
            loop is None or loop.is_closed() or not loop.is_running() or self.in_thread()
        )

    def pump(self, done: Callable[[], bool], timeout: float | None = None) -> bool:
        """Drive the reactor in this thread until ``done()`` (or ``timeout`` s); True if done.

        The reactor leaves its loop for the time being (a later :meth:`attach` brings it
        back); the loop is blocked or gone anyway, or this would not be called.
        """
        with self._attach_lock:
            self._detach()
            self._tid = threading.get_ident()
        deadline = None if timeout is None else time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        try:
            while True:
                if self._calls:
                    self._run_calls()
                self._run_timers()
                if done():
                    return True
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    return False
                wait = _PUMP_SLICE
                if self._calls:
                    wait = 0.0
                elif self._timers:
                    wait = min(wait, max(0.0, self._timers[0].when - now))
                fds: dict[int, int] = {}
                for fd in self._readers:
                    fds[fd] = selectors.EVENT_READ
                for fd in self._writers:
                    fds[fd] = fds.get(fd, 0) | selectors.EVENT_WRITE
                for fd, events in fds.items():
                    sel.register(fd, events)
                try:
                    ready = sel.select(wait)
                finally:
                    for fd in fds:
                        sel.unregister(fd)
                for key, mask in ready:
                    fd = key.fd
                    for flag, registry in (
                        (selectors.EVENT_READ, self._readers),
                        (selectors.EVENT_WRITE, self._writers),
                    ):
                        cb = registry.get(fd) if mask & flag else None
                        if cb is not None:
                            try:
                                cb()
                            except Exception:
                                log.exception("purezmq: error in I/O callback")
        finally:
            sel.close()

    def stop(self, wait: bool = True) -> None:
        """The context is done: leave the loop (nothing should be registered any more)."""
        with self._attach_lock:
            self._detach()
