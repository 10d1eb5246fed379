"""pyzmq's ``zmq.backend.select``: the names a backend provides, and loading one."""

from __future__ import annotations

from importlib import import_module
from typing import Any

public_api = [
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


def select_backend(name: str) -> dict[str, Any]:
    """The namespace (``public_api`` and ``monitored_queue``) of the backend module ``name``.

    purezmq has one backend, :mod:`purezmq.backend` itself; pyzmq's ``zmq.backend.cython``
    and ``zmq.backend.cffi`` do not exist here (an ImportError, as for a missing backend)."""
    try:
        mod = import_module(name)
    except ImportError:
        raise
    except Exception as exc:
        raise ImportError(f"Importing {name} failed with {exc}") from exc
    ns = {"monitored_queue": mod.monitored_queue}
    ns.update({key: getattr(mod, key) for key in public_api})
    return ns
