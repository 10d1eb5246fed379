"""``purezmq._future``: pyzmq's private base module of its Future-returning sockets.

In pyzmq, ``zmq.asyncio`` and ``zmq.eventloop.future`` build their Socket and Poller on
``_AsyncSocket`` / ``_AsyncPoller`` from here.  purezmq's async classes live in
:mod:`purezmq.asyncio` (``purezmq.eventloop.future`` subclasses them); this module gives
them pyzmq's names, for code that reaches for them (``isinstance`` checks, subclassing).
"""

from __future__ import annotations

from typing import TypeVar

from purezmq.asyncio import Poller as _AsyncPoller
from purezmq.asyncio import Socket as _AsyncSocket
from purezmq.constants import EVENTS, POLLIN, POLLOUT

T = TypeVar("T", bound="_AsyncSocket")

__all__ = ["EVENTS", "POLLIN", "POLLOUT", "T", "_AsyncPoller", "_AsyncSocket"]
