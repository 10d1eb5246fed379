"""Green sockets and contexts: blocking calls that wait in gevent's hub, not the thread.

A purezmq socket already tells whoever waits on it that its state may have changed: each
callback in its waiter list (``add_waiter``) is called, from whichever thread changed it
(usually the I/O thread), and a blocking ``send``/``recv`` waits on a
:class:`~purezmq.plumbing.waiter.Waiter` between attempts (honouring ``SNDTIMEO``,
``RCVTIMEO`` and ``NOBLOCK``).  The green socket keeps all of that and only swaps the
waiter for a :class:`GreenWaiter`, which parks the calling greenlet on a gevent ``async``
watcher (the one gevent watcher that may be signalled from another thread): the hub runs
other greenlets meanwhile, and the I/O thread's wake-up makes the hub switch back.  It
also never reads its connections on the caller's thread (the "hosted" reads of
:mod:`purezmq.io.host` sleep in ``poll``, which would stop the hub).

This works the same whether or not gevent has monkey-patched the process: the I/O thread
is a real OS thread either way (:mod:`purezmq.io.native`).
"""

from __future__ import annotations

from typing import Any

from gevent.hub import get_hub

from purezmq import constants as C
from purezmq.core.context import Context as _OriginalContext
from purezmq.error import ZMQError
from purezmq.green.poll import _Poller
from purezmq.green.waiter import GreenWaiter
from purezmq.sugar.socket import Socket as _OriginalSocket


class _Socket(_OriginalSocket):
    """pyzmq's ``zmq.green.Socket``: ``send``/``recv`` (all their forms) and ``poll``
    block only the calling greenlet."""

    _poller_class = _Poller

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not kwargs.get("shadow"):
            self._waiter = GreenWaiter()

    def _block(self, attempt, timeo: int, host: bool = False):
        # One waiter per blocked greenlet: a recv in one greenlet and a send in another
        # may wait on the same socket at once (a waiter is cleared by its waiting call, so
        # two calls sharing one could lose a wake-up).  The core's _block takes
        # self._waiter as it starts, before it can yield.
        waiter = self._waiter
        if waiter.busy:
            waiter = self._waiter = GreenWaiter()
        waiter.busy = True
        try:
            # Never a hosted read: it sleeps in poll(), which would stop every greenlet.
            return super()._block(attempt, timeo, False)
        finally:
            waiter.busy = False

    def poll(self, timeout: int | None = None, flags: int = C.POLLIN) -> int:
        if self.closed:
            raise ZMQError(C.ENOTSOCK)
        poller = self._poller_class()
        poller.register(self, flags)
        return dict(poller.poll(timeout)).get(self, 0)

    def __repr__(self) -> str:
        closed = " closed" if self.closed else ""
        return f"<purezmq.green.Socket({self.type_name}){closed} at {hex(id(self))}>"


class _Context(_OriginalContext):
    """pyzmq's ``zmq.green.Context``: its sockets are green sockets."""

    _socket_class = _Socket
    _instance = None  # Context.instance() of this class is not the blocking one's

    def term(self) -> None:
        """Wait, green, for every socket to be closed and to finish lingering, then stop.

        The wait runs in gevent's thread pool, so the greenlets blocked on this context's
        sockets run meanwhile: they get ``ContextTerminated`` and may close their sockets
        (with the wait in the hub's thread, as pyzmq's green ``term``, they never could).
        """
        if self.closed:
            return
        get_hub().threadpool.apply(super().term)

    def __repr__(self) -> str:
        return "<purezmq.green." + super().__repr__()[len("<purezmq."):]
