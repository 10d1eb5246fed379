"""The ``FD`` socket option: a kernel-visible, edge-triggered "something changed" signal.

libzmq's ``ZMQ_FD`` is a file descriptor that becomes readable when the socket's state *may*
have changed; the application then reads ``ZMQ_EVENTS`` (which resets the signal) and must
act on the events until they are exhausted, because the descriptor does not stay readable
while messages are waiting.  A :class:`Signaler` gives the same contract: its ``wake`` is
registered with the socket's ``add_waiter`` (called from any thread), it writes one byte to
a socket pair when not already signalled, and ``drain`` (done by reading ``EVENTS``)
empties it.  Spurious readability is allowed; a lost signal is not: ``drain`` empties the
pair *before* clearing ``pending``, so a wake racing with it either writes a fresh byte or
happened before the events are computed.

Threads and ownership.  The socket pair belongs to the thread that waits on it (the
socket's user, through ``FD``/``EVENTS``, or a hosted wait in ``io/host.py``); ``wake`` is
called from any thread.  ``pending`` changes under a small lock whose sections are a test
and a store (taken on the wake and drain edges, never per message), so the rule above
holds without the GIL too: a ``wake`` that sees ``pending`` set ran its section before
``drain`` (or ``unhold``) cleared it, and so its state change happened before the waiter
looks at the state.  :meth:`hold` lets the waiting thread mute wakes caused by its own
work (a hosted read delivering to its own socket) until :meth:`unhold`; a wake from another
thread in between is not lost, by the same argument.
"""

from __future__ import annotations

import socket
import threading


class Signaler:
    """One socket pair per purezmq socket, created on first ``getsockopt(FD)``."""

    __slots__ = ("_r", "_w", "pending", "closed", "_lock")

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)
        self._lock = threading.Lock()
        self.pending = False
        self.closed = False
        self.wake()  # readable at first, so a new poller looks at EVENTS once

    def fileno(self) -> int:
        return self._r.fileno()

    def wake(self) -> None:
        with self._lock:
            if self.pending or self.closed:
                return
            self.pending = True
        try:
            self._w.send(b"\x00")
        except OSError:  # full (already readable) or closed
            pass

    def drain(self) -> None:
        try:
            while self._r.recv(4096):
                pass
        except OSError:
            pass
        with self._lock:
            self.pending = False

    def hold(self) -> None:
        """Mute wakes (the waiting thread is about to cause some itself) until unhold."""
        self.pending = True  # a stale read of it elsewhere costs one spurious byte at most

    def unhold(self) -> None:
        """End :meth:`hold`; then look at the state the wakes are about."""
        with self._lock:
            self.pending = False

    def close(self) -> None:
        with self._lock:
            self.closed = True
        self._r.close()
        self._w.close()
