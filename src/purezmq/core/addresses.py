"""Live contexts and sockets by address (their ``underlying``): pyzmq's shadow idiom hands
an int across (``zmq.Socket.shadow(sock.underlying)``), so the int must find the object."""

from __future__ import annotations

import weakref
from typing import Any

from purezmq import constants as C
from purezmq.error import ZMQError

_live: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


def register(obj: Any) -> None:
    _live[id(obj)] = obj


def find(address: Any, kind: type, what: str) -> Any:
    """The live ``kind`` whose address is ``address``; ``EINVAL`` if there is none."""
    obj = _live.get(int(address))
    if not isinstance(obj, kind):
        raise ZMQError(C.EINVAL, f"no purezmq {what} at address {int(address):#x}")
    return obj
