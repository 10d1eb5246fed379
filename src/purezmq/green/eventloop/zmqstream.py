"""``zmq.green.eventloop.zmqstream``: a ``ZMQStream`` whose loop defaults to
``IOLoop.instance()``, as pyzmq's green one."""

from __future__ import annotations

from typing import Any

from purezmq.eventloop import zmqstream as _zmqstream
from purezmq.green.eventloop.ioloop import IOLoop

__all__ = ["ZMQStream"]


class ZMQStream(_zmqstream.ZMQStream):
    def __init__(self, socket: Any, io_loop: IOLoop | None = None) -> None:
        super().__init__(socket, io_loop=io_loop or IOLoop.instance())
