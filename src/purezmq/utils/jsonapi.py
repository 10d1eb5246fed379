"""JSON to and from UTF-8 bytes (pyzmq's ``zmq.utils.jsonapi``), with the standard library."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps", "loads"]

jsonmod = json  # kept for compatibility, as in pyzmq


def dumps(o: object, **kwargs: Any) -> bytes:
    """Serialize ``o`` to JSON bytes (UTF-8); keyword arguments go to :func:`json.dumps`."""
    return json.dumps(o, **kwargs).encode("utf8")


def loads(s: bytes | str, **kwargs: Any) -> Any:
    """Load an object from JSON bytes or str; keyword arguments go to :func:`json.loads`."""
    if isinstance(s, (bytes, bytearray, memoryview)):
        s = bytes(s).decode("utf8")
    return json.loads(s, **kwargs)
