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
"""

from __future__ import annotations

import socket


class Signaler:
    """One socket pair per purezmq socket, created on first ``getsockopt(FD)``."""

    __slots__ = ("_r", "_w", "pending", "closed")

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)
        self.pending = False
        self.closed = False
        self.wake()  # readable at first, so a new poller looks at EVENTS once

    def fileno(self) -> int:
        return self._r.fileno()

    def wake(self) -> None:
        if not self.pending and not self.closed:
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
        self.pending = False

    def close(self) -> None:
        self.closed = True
        self._r.close()
        self._w.close()
