"""pyzmq's ``zmq.sugar``: the public classes (``Context``, ``Socket``, ``Frame``, ``Poller``,
...) over the socket core, and, as in pyzmq, every name of its submodules and of
:mod:`purezmq.error` re-exported here (loaded on first use)."""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it, as pyzmq's zmq.sugar re-exports them
_EXPORTS: dict[str, str] = {
    "device": "purezmq",
    "Context": "purezmq.sugar.context",
    "SyncContext": "purezmq.sugar.context",
    **{n: "purezmq.error" for n in (
        "DraftFDWarning", "ZMQBaseError", "ZMQBindError", "ZMQError", "NotDone",
        "ContextTerminated", "InterruptedSystemCall", "Again", "ZMQVersionError")},
    "Frame": "purezmq.sugar.frame",
    "Message": "purezmq.sugar.frame",
    "Poller": "purezmq.sugar.poll",
    "select": "purezmq.sugar.poll",
    "Socket": "purezmq.sugar.socket",
    "SyncSocket": "purezmq.sugar.socket",
    "MessageTracker": "purezmq.sugar.tracker",
    "_FINISHED_TRACKER": "purezmq.sugar.tracker",
    **{n: "purezmq.sugar.version" for n in (
        "zmq_version", "zmq_version_info", "pyzmq_version", "pyzmq_version_info",
        "__version__", "__revision__")},
    "Stopwatch": "purezmq.sugar.stopwatch",
}
_SUBMODULES = ("attrsettr", "context", "frame", "poll", "socket", "stopwatch", "tracker",
               "version")

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
