"""purezmq: ZeroMQ in pure Python, with pyzmq's API and libzmq's wire protocol.

``import purezmq as zmq`` and pyzmq code runs unchanged; sockets talk ZMTP 3.1 to libzmq,
pyzmq, JeroMQ and NetMQ peers.
"""

from __future__ import annotations

from purezmq import constants, utils
from purezmq.constants import *  # noqa: F403
from purezmq.core.context import Context
from purezmq.error import (
    Again,
    ContextTerminated,
    DraftFDWarning,
    InterruptedSystemCall,
    NotDone,
    ZMQBaseError,
    ZMQBindError,
    ZMQError,
    ZMQVersionError,
    strerror,
    zmq_errno,
)
from purezmq.sugar.frame import Frame, Message, MessageTracker
from purezmq.sugar.poll import Poller, select, zmq_poll
from purezmq.sugar.socket import Socket
from purezmq.sugar.stopwatch import Stopwatch

# pyzmq's names for the classes its ``zmq.asyncio`` classes derive from
SyncContext = Context
SyncSocket = Socket
backend = None  # purezmq has one backend: itself

__version__ = "0.1.0"
VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH = 4, 3, 5
COPY_THRESHOLD = 65536
# The draft socket types (SERVER, CLIENT, RADIO, DISH, GATHER, SCATTER, PEER, CHANNEL),
# join/leave and send's routing_id/group are native here, not a libzmq build option; see
# docs/COMPATIBILITY.md for what of libzmq's draft API is still missing.
DRAFT_API = True
PYZMQ_DRAFT_API = True
IPC_PATH_MAX_LEN = 107


def zmq_version_info() -> tuple[int, int, int]:
    """The libzmq version whose behaviour and wire protocol purezmq follows."""
    return (VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH)


def zmq_version() -> str:
    return ".".join(str(n) for n in zmq_version_info())


def pyzmq_version_info() -> tuple[int, int, int]:
    """The pyzmq API level purezmq mirrors."""
    return (27, 0, 0)


def pyzmq_version() -> str:
    return __version__


def purezmq_version() -> str:
    return __version__


def has(capability: str) -> bool:
    """Whether a libzmq capability is available: ipc, curve, ..."""
    if capability in ("ipc", "pgm", "epgm"):  # pgm:// needs raw sockets at run time
        return True
    if capability == "draft":
        return DRAFT_API
    if capability == "curve":
        try:
            import nacl  # noqa: F401
        except ImportError:
            return False
        return True
    if capability in ("ws", "wss", "WS", "WSS"):  # (libzmq answers only "WS" / "WSS")
        try:
            import wsproto  # noqa: F401
        except ImportError:
            return False
        return True
    return False


def get_includes() -> list[str]:
    return []


def get_library_dirs() -> list[str]:
    return []


def curve_keypair() -> tuple[bytes, bytes]:
    """A new CURVE key pair, Z85-encoded (needs ``purezmq[curve]``)."""
    from purezmq.zmtp.mechanisms.curve import curve_keypair as _kp

    return _kp()


def curve_public(secret_key: bytes) -> bytes:
    from purezmq.zmtp.mechanisms.curve import curve_public as _pub

    return _pub(secret_key)


def device(device_type: int, frontend: Socket, backend: Socket) -> None:
    from purezmq.devices.proxy import device as _device

    _device(device_type, frontend, backend)


def proxy(frontend: Socket, backend: Socket, capture: Socket | None = None) -> None:
    from purezmq.devices.proxy import proxy as _proxy

    _proxy(frontend, backend, capture)


def proxy_steerable(
    frontend: Socket, backend: Socket, capture: Socket | None = None,
    control: Socket | None = None,
) -> int:
    from purezmq.devices.proxy import proxy_steerable as _ps

    return _ps(frontend, backend, capture, control)


__all__ = [  # noqa: F405
    "Again",
    "Context",
    "ContextTerminated",
    "Frame",
    "InterruptedSystemCall",
    "Message",
    "MessageTracker",
    "NotDone",
    "Poller",
    "Socket",
    "ZMQBaseError",
    "ZMQBindError",
    "ZMQError",
    "ZMQVersionError",
    "constants",
    "utils",
    "curve_keypair",
    "curve_public",
    "device",
    "has",
    "proxy",
    "proxy_steerable",
    "pyzmq_version",
    "pyzmq_version_info",
    "select",
    "strerror",
    "zmq_errno",
    "zmq_poll",
    "Stopwatch",
    "SyncContext",
    "SyncSocket",
    "DraftFDWarning",
    "zmq_version",
    "zmq_version_info",
    *constants.__all__,
]
