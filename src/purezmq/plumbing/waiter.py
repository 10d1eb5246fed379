"""Blocking until something changes, without polling.

A socket keeps a tuple of wake callbacks; whoever changes its state (an engine delivering
messages, a pipe draining below its low-water mark, a command in its mailbox) calls each.
Blocking calls register a :class:`Waiter`; ``Poller``, asyncio and the ``FD`` option
register their own callbacks, so there is one notification mechanism for all of them.
"""

from __future__ import annotations

import threading


class Waiter:
    """A one-shot-at-a-time wake-up: ``wake`` from any thread, ``wait`` in one."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def wake(self) -> None:
        try:
            self._lock.release()
        except RuntimeError:  # already woken
            pass

    def wait(self, timeout: float | None) -> bool:
        """Wait for a wake-up; True if woken.  Interruptible by signals (Ctrl-C)."""
        if timeout is None:
            # Short slices keep KeyboardInterrupt prompt on every platform.
            while not self._lock.acquire(timeout=0.5):
                pass
            return True
        if timeout <= 0:
            return self._lock.acquire(False)
        return self._lock.acquire(timeout=timeout)

    def clear(self) -> None:
        self._lock.acquire(False)
