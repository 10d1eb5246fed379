"""Steerable proxy devices: a Proxy with a control socket (PAUSE/RESUME/TERMINATE/STATISTICS)."""

from __future__ import annotations

from typing import Any

from purezmq import constants as C
from purezmq.devices.basedevice import Device
from purezmq.devices.proxydevice import ProcessProxy, Proxy, ThreadProxy

__all__ = ["ProxySteerable", "ThreadProxySteerable", "ProcessProxySteerable"]


class ProxySteerableBase:
    """Adds the ``*_ctrl`` configuration methods and the control socket to a Proxy."""

    def __init__(
        self, in_type: int, out_type: int, mon_type: int = C.PUB, ctrl_type: int | None = None
    ) -> None:
        super().__init__(in_type=in_type, out_type=out_type, mon_type=mon_type)  # type: ignore[call-arg]
        self.ctrl_type = ctrl_type
        self._ctrl_binds: list[str] = []
        self._ctrl_connects: list[str] = []
        self._ctrl_sockopts: list[tuple[int, Any]] = []

    def bind_ctrl(self, addr: str) -> None:
        self._ctrl_binds.append(addr)

    def bind_ctrl_to_random_port(self, addr: str, *args: int, **kwargs: int) -> int:
        port = self._reserve_random_port(addr, *args, **kwargs)  # type: ignore[attr-defined]
        self.bind_ctrl(f"{addr}:{port}")
        return port

    def connect_ctrl(self, addr: str) -> None:
        self._ctrl_connects.append(addr)

    def setsockopt_ctrl(self, opt: int, value: Any) -> None:
        self._ctrl_sockopts.append((opt, value))

    def _setup_sockets(self) -> tuple:
        ins, outs, mons = super()._setup_sockets()  # type: ignore[misc]
        ctrls = self._context.socket(self.ctrl_type)  # type: ignore[attr-defined]
        self._sockets.append(ctrls)  # type: ignore[attr-defined]
        Device._configure(ctrls, self._ctrl_sockopts, self._ctrl_binds, self._ctrl_connects)
        return ins, outs, mons, ctrls

    def run_device(self) -> None:
        from purezmq.devices.proxy import proxy_steerable

        ins, outs, mons, ctrls = self._setup_sockets()
        proxy_steerable(ins, outs, mons, ctrls)


class ProxySteerable(ProxySteerableBase, Proxy):
    """A Proxy steered through its control socket: PAUSE, RESUME, TERMINATE, STATISTICS."""


class ThreadProxySteerable(ProxySteerableBase, ThreadProxy):
    """ProxySteerable in a background thread."""


class ProcessProxySteerable(ProxySteerableBase, ProcessProxy):
    """ProxySteerable in a background process."""
