"""``purezmq.eventloop``: pyzmq's tornado integration (``zmq.eventloop``).

Tornado is an optional dependency (``pip install purezmq[eventloop]``): purezmq's core
never imports it, only this package does.  Since tornado 5 an ``IOLoop`` is a wrapper
around an asyncio loop, so nothing needs installing; :mod:`.zmqstream` gives the
callback-style :class:`~.zmqstream.ZMQStream`, and :mod:`.ioloop` keeps pyzmq's deprecated
names.
"""

from __future__ import annotations

try:
    from tornado.ioloop import IOLoop
except ImportError as e:  # say which extra brings it, not just "no module named tornado"
    raise ImportError(
        "purezmq.eventloop needs tornado: pip install 'purezmq[eventloop]' (or tornado>=6)"
    ) from e

__all__ = ["IOLoop"]
