"""``import zmq`` gives purezmq, in the processes that ask for it.

purezmq installs ``purezmq-as-zmq.pth`` beside itself in site-packages.  At interpreter start
that file reads the environment variable ``PUREZMQ_AS_ZMQ``; when it is set (to anything but
``""``, ``0``, ``false``, ``no`` or ``off``) it imports this module and calls :func:`install`.
From then on ``import zmq``, ``import zmq.asyncio``, ``from zmq.eventloop import zmqstream`` and
``python -m zmq.X`` resolve to purezmq's own modules: ``zmq`` *is* ``purezmq`` and
``zmq.Socket is purezmq.Socket``, so there is one copy of every class and every registry.
Children inherit the environment, so subprocesses, ``multiprocessing`` (fork, spawn,
forkserver) and anything a process manager or a Jupyter kernelspec starts use purezmq too.
``purezmq run -- COMMAND`` sets the variable and runs ``COMMAND``.

Where the variable is not set nothing changes: pyzmq, if installed, is what ``import zmq``
gives.  With the variable set, the alias wins over an installed pyzmq, because its finder goes
first on ``sys.meta_path``.

This module is deliberately tiny and imports nothing of purezmq until a ``zmq`` import asks for
it, so that a Python process that never imports zmq pays almost nothing for the switch.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from importlib.machinery import ModuleSpec
from types import CodeType, ModuleType

#: The environment variable that turns the alias on.
ENV_VAR = "PUREZMQ_AS_ZMQ"
#: The name applications import, and the package that answers it.
ALIAS = "zmq"
TARGET = "purezmq"

_OFF = ("", "0", "false", "no", "off")


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``environ`` asks for ``import zmq`` to give purezmq."""
    return environ.get(ENV_VAR, "").strip().lower() not in _OFF


def target_name(fullname: str) -> str | None:
    """``zmq.X.Y`` -> ``purezmq.X.Y``; ``None`` for a name outside the ``zmq`` package."""
    if fullname == ALIAS:
        return TARGET
    if fullname.startswith(ALIAS + "."):
        return TARGET + fullname[len(ALIAS):]
    return None


class _AliasLoader(importlib.abc.Loader):
    """Loads ``zmq.X`` by importing ``purezmq.X`` and handing back that very module."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the target module was executed when it was imported."""

    # ``python -m zmq.X`` (runpy) asks the loader for the module's code and runs it as __main__.
    def get_code(self, fullname: str) -> CodeType | None:
        spec = importlib.util.find_spec(self.target)
        loader = spec.loader if spec is not None else None
        get_code = getattr(loader, "get_code", None)
        return get_code(self.target) if get_code is not None else None

    def is_package(self, fullname: str) -> bool:
        spec = importlib.util.find_spec(self.target)
        return spec is not None and spec.submodule_search_locations is not None


class ZmqAliasFinder(importlib.abc.MetaPathFinder):
    """A meta path finder that answers ``zmq`` and ``zmq.*`` with purezmq's modules."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        real = target_name(fullname)
        if real is None:
            return None
        try:
            real_spec = importlib.util.find_spec(real)
        except ModuleNotFoundError:
            return None
        if real_spec is None:
            return None  # zmq.X that purezmq lacks: ModuleNotFoundError, as for any missing X
        spec = ModuleSpec(
            fullname,
            _AliasLoader(real),
            origin=real_spec.origin,
            is_package=real_spec.submodule_search_locations is not None,
        )
        if real_spec.submodule_search_locations is not None:
            spec.submodule_search_locations = list(real_spec.submodule_search_locations)
        spec.has_location = real_spec.has_location
        return spec


def installed() -> bool:
    """Whether this process's ``import zmq`` gives purezmq."""
    return any(isinstance(f, ZmqAliasFinder) for f in sys.meta_path)


def install() -> None:
    """Make ``import zmq`` give purezmq in this process (idempotent).

    Call it before anything imports ``zmq``: a ``zmq`` that is already imported (pyzmq) is
    left alone, and a warning says so.
    """
    if installed():
        return
    already = sys.modules.get(ALIAS)
    if already is not None and getattr(already, "__name__", None) != TARGET:
        import warnings

        warnings.warn(
            f"{ENV_VAR} is set but another zmq ({getattr(already, '__file__', already)!r}) "
            "was imported first; this process keeps it",
            RuntimeWarning,
            stacklevel=2,
        )
        return
    sys.meta_path.insert(0, ZmqAliasFinder())
