"""Reading socket monitor events (pyzmq's ``zmq.utils.monitor``).

A monitored socket sends each event to its monitor PAIR socket as libzmq 4.x does: two
frames, the first ``uint16`` event number and ``uint32`` value (host order: little-endian on
every platform purezmq runs on, no padding), the second the endpoint.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable
from typing import Any, TypedDict

from purezmq import constants as C

__all__ = ["parse_monitor_message", "recv_monitor_message"]

_EVENT = struct.Struct("=hi")  # pyzmq reads the values signed; the bits are libzmq's


class _MonitorMessage(TypedDict):
    event: int
    value: int
    endpoint: bytes


def parse_monitor_message(msg: list) -> _MonitorMessage:
    """Decode one monitor event message into ``{"event", "value", "endpoint"}``.

    ``event`` is a :class:`purezmq.constants.Event`; ``value`` is what libzmq puts there:
    a file descriptor (CONNECTED, ACCEPTED, LISTENING, CLOSED, DISCONNECTED), the reconnect
    interval (CONNECT_RETRIED), an errno (failures), a ZAP status code
    (HANDSHAKE_FAILED_AUTH) or a ``PROTOCOL_ERROR_*`` code (HANDSHAKE_FAILED_PROTOCOL).
    """
    if len(msg) != 2 or len(msg[0]) != 6:
        raise RuntimeError(f"Invalid event message format: {msg}")
    event_id, value = _EVENT.unpack(bytes(msg[0]))
    endpoint = msg[1]
    if not isinstance(endpoint, bytes):  # a Frame
        endpoint = bytes(getattr(endpoint, "bytes", endpoint))
    return {
        "event": C.Event(event_id),
        "value": C.Event(value),
        "endpoint": endpoint,
    }


async def _parse_monitor_msg_async(awaitable_msg: Awaitable[list]) -> _MonitorMessage:
    return parse_monitor_message(await awaitable_msg)


def recv_monitor_message(socket: Any, flags: int = 0) -> Any:
    """Receive and decode one event from a monitor socket (see :func:`parse_monitor_message`).

    With an asyncio socket the result is an awaitable, as in pyzmq.
    """
    msg = socket.recv_multipart(flags)
    if isinstance(msg, Awaitable):
        return _parse_monitor_msg_async(msg)
    return parse_monitor_message(msg)
