"""``zmq.green.eventloop.ioloop``: the names of :mod:`purezmq.eventloop.ioloop`."""

from __future__ import annotations

from purezmq.eventloop.ioloop import *  # noqa: F403
from purezmq.eventloop.ioloop import IOLoop  # noqa: F401
