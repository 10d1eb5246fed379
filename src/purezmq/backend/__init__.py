"""pyzmq's ``zmq.backend``: the low-level classes and functions.

pyzmq loads them from a compiled backend (Cython or CFFI, chosen by ``PYZMQ_BACKEND``);
purezmq has one implementation, in Python, and this module names its parts as pyzmq's
backend does.  ``PYZMQ_BACKEND`` is ignored.
"""

from __future__ import annotations

from purezmq import (
    IPC_PATH_MAX_LEN,
    PYZMQ_DRAFT_API,
    Context,
    Frame,
    Message,
    Socket,
    curve_keypair,
    curve_public,
    has,
    proxy,
    proxy_steerable,
    strerror,
    zmq_errno,
    zmq_poll,
    zmq_version_info,
)
from purezmq.devices.monitoredqueue import monitored_queue  # noqa: F401 (pyzmq's private API)

__all__ = [  # purezmq.backend.select.public_api
    "Context",
    "Socket",
    "Frame",
    "Message",
    "proxy",
    "proxy_steerable",
    "zmq_poll",
    "strerror",
    "zmq_errno",
    "has",
    "curve_keypair",
    "curve_public",
    "zmq_version_info",
    "IPC_PATH_MAX_LEN",
    "PYZMQ_DRAFT_API",
]
