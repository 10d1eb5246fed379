"""``purezmq.eventloop.ioloop``: tornado's ``IOLoop`` module under pyzmq's deprecated name.

pyzmq 17 made its own IOLoop unnecessary (tornado runs on asyncio, and sockets are watched
through their ``FD``), so ``zmq.eventloop.ioloop`` is only tornado's module re-exported
with ``ZMQIOLoop`` and a no-op ``install()``; importing it warns, as pyzmq's does.
"""

from __future__ import annotations

import warnings

import tornado.ioloop as _tornado_ioloop
from tornado.ioloop import IOLoop

# Every public name of tornado.ioloop (it has no __all__), as ``import *`` would give.
globals().update(
    {k: v for k, v in vars(_tornado_ioloop).items() if not k.startswith("_")}
)

_DEPRECATED = (
    "zmq.eventloop.ioloop is deprecated in pyzmq 17. "
    "pyzmq now works with default tornado and asyncio eventloops."
)

ZMQIOLoop = IOLoop  # pyzmq's old subclass name: today it is tornado's IOLoop itself


def install() -> None:
    """Deprecated (pyzmq 17): tornado needs no special loop for ZeroMQ; does nothing."""
    warnings.warn(_DEPRECATED, DeprecationWarning, stacklevel=2)


warnings.warn(_DEPRECATED, DeprecationWarning, stacklevel=2)
