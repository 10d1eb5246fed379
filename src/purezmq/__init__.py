"""purezmq: ZeroMQ in pure Python, with pyzmq's API and libzmq's wire protocol.

``import purezmq as zmq`` and pyzmq code runs unchanged; sockets talk ZMTP 3.1 to libzmq,
pyzmq, JeroMQ and NetMQ peers.
"""

from __future__ import annotations

from purezmq import constants, utils
from purezmq._version import __version__ as __purezmq_version__
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
from purezmq.sugar.context import SyncContext  # Context[SyncSocket], as pyzmq's
from purezmq.sugar.frame import Frame, Message, MessageTracker
from purezmq.sugar.poll import Poller, select, zmq_poll
from purezmq.sugar.socket import Socket, SyncSocket  # SyncSocket: Socket[bytes]
from purezmq.sugar.stopwatch import Stopwatch
from purezmq.sugar.tracker import _FINISHED_TRACKER
from purezmq.sugar.version import (
    __revision__,
    __version__,
    pyzmq_version,
    pyzmq_version_info,
    zmq_version,
    zmq_version_info,
)

# libzmq's version macros (ZMQ_VERSION_MAJOR...), as pyzmq's constants once had them
VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH = zmq_version_info()
COPY_THRESHOLD = 65536
# The draft socket types (SERVER, CLIENT, RADIO, DISH, GATHER, SCATTER, PEER, CHANNEL),
# join/leave and send's routing_id/group are native here, not a libzmq build option; see
# docs/COMPATIBILITY.md for what of libzmq's draft API is still missing.
DRAFT_API = True
PYZMQ_DRAFT_API = True
IPC_PATH_MAX_LEN = 107


def purezmq_version() -> str:
    """purezmq's own version (``zmq.__version__`` is the pyzmq API level it implements)."""
    return __purezmq_version__


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
    "__version__",
    "__revision__",
    "COPY_THRESHOLD",
    "DRAFT_API",
    "IPC_PATH_MAX_LEN",
    "PYZMQ_DRAFT_API",
    "_FINISHED_TRACKER",
    "get_includes",
    *constants.__all__,
]


def __getattr__(name: str):
    # pyzmq's zmq.backend is its compiled core; purezmq's (a module naming the same parts)
    # is loaded on first use.
    if name == "backend":
        import purezmq.backend

        return purezmq.backend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "backend"})
