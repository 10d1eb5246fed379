"""``monitored_queue``: a queue that copies each message, prefixed by its direction, to a
third socket; ROUTER on both sides is supported by swapping the two routing ids."""

from __future__ import annotations

from purezmq.devices.proxy import monitored_queue

__all__ = ["monitored_queue"]
