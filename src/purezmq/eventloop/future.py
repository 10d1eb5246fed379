"""``purezmq.eventloop.future``: Future-returning Context, Socket and Poller for tornado
coroutines (pyzmq's ``zmq.eventloop.future``).

Since tornado 5 a tornado ``Future`` *is* an ``asyncio.Future`` and tornado's ``IOLoop``
runs on an asyncio loop, so these are :mod:`purezmq.asyncio`'s classes under pyzmq's
names: ``await sock.recv()`` in a tornado coroutine, ``IOLoop.current().add_future(...)``,
``tornado.gen.with_timeout`` all take them.  (pyzmq makes its futures' ``cancel()`` set a
``CancelledError`` exception, this module's, instead of cancelling; purezmq's are
cancelled the asyncio way: see docs/COMPATIBILITY.md.)
"""

from __future__ import annotations

import warnings
from typing import Any

from purezmq import asyncio as _aio

__all__ = ["CancelledError", "Context", "Poller", "Socket"]


class CancelledError(Exception):
    """pyzmq's name (its tornado futures fail with it when cancelled)."""


class Socket(_aio.Socket):
    """A socket whose ``send*`` / ``recv*`` / ``poll`` return Futures tornado awaits."""

    __slots__ = ()


class Poller(_aio.Poller):
    """A Poller whose ``poll`` returns a Future tornado awaits."""


class Context(_aio.Context):
    """A context making :class:`Socket` (and its own ``instance()``, as pyzmq's)."""

    __slots__ = ()
    _socket_class = Socket
    _instance = None  # not shared with purezmq.Context.instance() nor purezmq.asyncio's
    _instance_pid = None
    io_loop = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        io_loop = kwargs.pop("io_loop", None)
        if io_loop is not None:
            warnings.warn(
                f"{self.__class__.__name__}(io_loop) argument is deprecated in pyzmq 22.2."
                " The currently active loop will always be used.",
                DeprecationWarning,
                stacklevel=2,
            )
        super().__init__(*args, **kwargs)
