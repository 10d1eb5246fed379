"""pyzmq's ``zmq.backend.select``: the names a backend provides, and loading one."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from purezmq.backend import __all__ as _backend_names

#: The names a backend provides: purezmq.backend's (its ``__all__``), as pyzmq lists them.
public_api = list(_backend_names)


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
