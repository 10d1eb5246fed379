"""The green ``Poller``, ``select`` and ``zmq_poll``: waits that yield to gevent's hub.

The blocking :class:`purezmq.Poller` sleeps on a waiter woken by its sockets, or, when raw
file descriptors are registered too, in ``select.poll``; the green one sleeps on a
:class:`~purezmq.green.core.GreenWaiter` and in gevent's cooperative ``poll``.
"""

from __future__ import annotations

from typing import Any

from gevent import select as _gselect

from purezmq.green.waiter import GreenWaiter
from purezmq.sugar.poll import Poller as _OriginalPoller
from purezmq.sugar.poll import poll_with, select_with

__all__ = ["Poller", "select", "zmq_poll"]


class _Poller(_OriginalPoller):
    """pyzmq's ``zmq.green.Poller``: ``poll`` blocks only the calling greenlet."""

    _waiter_class = GreenWaiter
    _fd_poller = staticmethod(_gselect.poll)


Poller = _Poller


def select(rlist: list, wlist: list, xlist: list, timeout: float | None = None) -> tuple:
    """``zmq.select`` that blocks only the calling greenlet."""
    return select_with(_Poller(), rlist, wlist, xlist, timeout)


def zmq_poll(sockets: list, timeout: int = -1) -> list[tuple[Any, int]]:
    """``zmq.zmq_poll`` that blocks only the calling greenlet."""
    return poll_with(_Poller(), sockets, timeout)
