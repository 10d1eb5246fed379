"""``GreenWaiter``: the core's waiter interface, for a greenlet."""

from __future__ import annotations

from typing import Any

from gevent.hub import Waiter as _HubWaiter
from gevent.hub import get_hub


class GreenWaiter:
    """The core's waiter interface (``wake``, ``wait``, ``clear``) for a greenlet.

    ``wake`` may be called from any thread; ``wait`` and ``clear`` from the waiting
    greenlet's.  As with :class:`~purezmq.plumbing.waiter.Waiter`, a ``wake`` since the
    last ``clear`` makes ``wait`` return at once.
    """

    __slots__ = ("_hub", "_async", "_woken", "_waiting", "busy")

    def __init__(self) -> None:
        self.busy = False  # a blocking call is using it (see purezmq.green.core)
        self._hub: Any = None
        self._async: Any = None  # an async watcher of _hub's loop, made on first wait
        self._woken = False
        self._waiting = False

    def wake(self) -> None:
        self._woken = True  # first the flag, then the signal: see wait()
        if self._waiting:
            watcher = self._async
            if watcher is not None:
                watcher.send()

    def clear(self) -> None:
        self._woken = False

    def wait(self, timeout: float | None) -> bool:
        """Yield to the hub until woken or ``timeout`` seconds (None: no limit) pass;
        True if woken.  A ``gevent.Timeout`` or ``kill`` of the greenlet interrupts it."""
        if self._woken:
            return True
        if timeout is not None and timeout <= 0:
            return False
        hub = get_hub()
        if hub is not self._hub:  # first wait, or the socket moved to another thread
            self._hub = hub
            self._async = hub.loop.async_()
        watcher = self._async
        back = _HubWaiter(hub)
        timer = None
        self._waiting = True
        watcher.start(back.switch, None)
        try:
            # A wake that came before the watcher started sent no signal (libev drops
            # it), but it set the flag first: look once more before sleeping.
            if self._woken:
                return True
            if timeout is not None:
                timer = hub.loop.timer(timeout)
                timer.start(back.switch, None)
            back.get()
            return self._woken
        finally:
            self._waiting = False
            watcher.stop()
            if timer is not None:
                timer.close()
