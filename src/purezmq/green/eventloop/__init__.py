"""``purezmq.green.eventloop`` (``zmq.green.eventloop``): as pyzmq's, the tornado event
loop of :mod:`purezmq.eventloop` (which is greenlet-friendly when gevent has patched the
process's ``select``/``selectors``)."""

from __future__ import annotations

from purezmq.green.eventloop.ioloop import IOLoop

__all__ = ["IOLoop"]
