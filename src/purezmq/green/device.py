"""Green ``device`` and ``proxy``: forward messages between sockets, greenlet-friendly.

The blocking :func:`purezmq.proxy` sleeps on a thread's waiter; these sleep in a green
:class:`~purezmq.green.poll.Poller`, so the other greenlets run while nothing moves.  Each
wake-up moves what the sockets hold (a bounded batch per direction, so one busy
direction cannot starve the other), with ``NOBLOCK`` receives and green sends.
"""

from __future__ import annotations

from typing import Any, NoReturn

from purezmq import constants as C
from purezmq.error import Again
from purezmq.green.poll import _Poller

__all__ = ["device", "proxy"]

_BATCH = 64  # messages moved per direction per wake-up


def _move(src: Any, dst: Any, capture: Any) -> None:
    for _ in range(_BATCH):
        try:
            msg = src.recv_multipart(C.NOBLOCK)
        except Again:
            return
        if capture is not None:
            capture.send_multipart(msg)
        dst.send_multipart(msg)


def proxy(frontend: Any, backend: Any, capture: Any = None) -> NoReturn:
    """``zmq.proxy`` for green sockets: runs until the context is terminated (then
    ``ContextTerminated``, as ``zmq.proxy``)."""
    poller = _Poller()
    poller.register(frontend, C.POLLIN)
    if backend is not frontend:
        poller.register(backend, C.POLLIN)
    while True:
        ready = dict(poller.poll())
        if frontend in ready:
            _move(frontend, backend, capture)
        if backend is not frontend and backend in ready:
            _move(backend, frontend, capture)


def device(device_type: int, isocket: Any, osocket: Any) -> NoReturn:
    """pyzmq's green ``device``: a proxy between ``isocket`` and ``osocket`` (``-1``: the
    same socket both ways); ``device_type`` (QUEUE, FORWARDER, STREAMER) is not used."""
    if isinstance(osocket, int) and osocket == -1:
        osocket = isocket
    proxy(isocket, osocket)
