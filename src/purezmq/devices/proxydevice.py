"""Proxy devices: a queue with a third, capture ("monitor") socket (pyzmq's ``Proxy``)."""

from __future__ import annotations

from typing import Any

from purezmq import constants as C
from purezmq.devices.basedevice import Device, ProcessDevice, ThreadDevice

__all__ = ["Proxy", "ThreadProxy", "ProcessProxy"]


class ProxyBase:
    """Adds the ``*_mon`` configuration methods and the capture socket to a Device."""

    def __init__(self, in_type: int, out_type: int, mon_type: int = C.PUB) -> None:
        Device.__init__(self, in_type=in_type, out_type=out_type)  # type: ignore[arg-type]
        self.mon_type = mon_type
        self._mon_binds: list[str] = []
        self._mon_connects: list[str] = []
        self._mon_sockopts: list[tuple[int, Any]] = []

    def bind_mon(self, addr: str) -> None:
        self._mon_binds.append(addr)

    def bind_mon_to_random_port(self, addr: str, *args: int, **kwargs: int) -> int:
        port = self._reserve_random_port(addr, *args, **kwargs)  # type: ignore[attr-defined]
        self.bind_mon(f"{addr}:{port}")
        return port

    def connect_mon(self, addr: str) -> None:
        self._mon_connects.append(addr)

    def setsockopt_mon(self, opt: int, value: Any) -> None:
        self._mon_sockopts.append((opt, value))

    def _setup_sockets(self) -> tuple:
        ins, outs = Device._setup_sockets(self)  # type: ignore[arg-type]
        mons = self._context.socket(self.mon_type)  # type: ignore[attr-defined]
        self._sockets.append(mons)  # type: ignore[attr-defined]
        Device._configure(mons, self._mon_sockopts, self._mon_binds, self._mon_connects)
        return ins, outs, mons

    def run_device(self) -> None:
        from purezmq.devices.proxy import proxy

        ins, outs, mons = self._setup_sockets()
        proxy(ins, outs, mons)


class Proxy(ProxyBase, Device):
    """A QUEUE whose every message is also sent to the capture (``mon``) socket.

    A PUB socket is the natural capture socket (the default ``mon_type``).
    """


class ThreadProxy(ProxyBase, ThreadDevice):
    """Proxy in a background thread."""


class ProcessProxy(ProxyBase, ProcessDevice):
    """Proxy in a background process."""
