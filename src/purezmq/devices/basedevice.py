"""Devices run in the background: the sockets are made *in* the device's thread or process.

pyzmq's ``zmq.devices.basedevice``: you give socket types and queue up binds, connects and
options; ``start()`` creates the sockets where the device runs (sockets are not
thread-safe) and runs :func:`purezmq.proxy` on them until the context is terminated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from multiprocessing import Process
from threading import Thread
from typing import Any

from purezmq import constants as C
from purezmq.core.context import Context
from purezmq.error import ZMQBindError, ZMQError

__all__ = ["Device", "ThreadDevice", "ProcessDevice"]


class Device:
    """A device to run in the background, described by socket types::

        dev = Device(zmq.QUEUE, zmq.ROUTER, zmq.DEALER)
        dev.bind_in("tcp://127.0.0.1:5555")
        dev.bind_out("tcp://127.0.0.1:5556")
        dev.start()  # this class runs in the calling thread; see ThreadDevice

    ``bind_{in,out}``, ``connect_{in,out}`` and ``setsockopt_{in,out}`` are queued and
    applied to the sockets when they are created.  An ``out_type`` < 0 uses the in-socket
    for both sides.  ``daemon`` (default True) is passed to the thread or process.
    """

    context_factory: Callable[[], Context] = Context.instance

    def __init__(
        self, device_type: int = C.QUEUE, in_type: int | None = None, out_type: int | None = None
    ) -> None:
        if in_type is None:
            raise TypeError("in_type must be specified")
        if out_type is None:
            raise TypeError("out_type must be specified")
        self.device_type = device_type
        self.in_type = in_type
        self.out_type = out_type
        self._in_binds: list[str] = []
        self._in_connects: list[str] = []
        self._in_sockopts: list[tuple[int, Any]] = []
        self._out_binds: list[str] = []
        self._out_connects: list[str] = []
        self._out_sockopts: list[tuple[int, Any]] = []
        self._random_addrs: list[str] = []
        self.daemon = True
        self.done = False
        self._sockets: list = []

    # -- configuration (applied in the device's thread) -----------------------------------
    def bind_in(self, addr: str) -> None:
        self._in_binds.append(addr)

    def bind_in_to_random_port(self, addr: str, *args: int, **kwargs: int) -> int:
        port = self._reserve_random_port(addr, *args, **kwargs)
        self.bind_in(f"{addr}:{port}")
        return port

    def connect_in(self, addr: str) -> None:
        self._in_connects.append(addr)

    def setsockopt_in(self, opt: int, value: Any) -> None:
        self._in_sockopts.append((opt, value))

    def bind_out(self, addr: str) -> None:
        self._out_binds.append(addr)

    def bind_out_to_random_port(self, addr: str, *args: int, **kwargs: int) -> int:
        port = self._reserve_random_port(addr, *args, **kwargs)
        self.bind_out(f"{addr}:{port}")
        return port

    def connect_out(self, addr: str) -> None:
        self._out_connects.append(addr)

    def setsockopt_out(self, opt: int, value: Any) -> None:
        self._out_sockopts.append((opt, value))

    def _reserve_random_port(self, addr: str, *args: int, **kwargs: int) -> int:
        """A port that is free now (bound and released), not handed out by us before."""
        ctx = Context()
        try:
            for _ in range(5):
                sock = ctx.socket(C.PUSH)
                try:
                    sock.linger = 0
                    port = sock.bind_to_random_port(addr, *args, **kwargs)
                finally:
                    sock.close(0)
                new_addr = f"{addr}:{port}"
                if new_addr not in self._random_addrs:
                    break
            else:
                raise ZMQBindError("Could not reserve random port.")
        finally:
            ctx.term()
        self._random_addrs.append(new_addr)
        return port

    # -- running ----------------------------------------------------------------------------
    @staticmethod
    def _configure(sock, sockopts, binds, connects) -> None:
        for opt, value in sockopts:
            sock.setsockopt(opt, value)
        for addr in binds:
            sock.bind(addr)
        for addr in connects:
            sock.connect(addr)

    def _setup_sockets(self) -> tuple:
        ctx = self.context_factory()
        self._context = ctx
        ins = ctx.socket(self.in_type)
        self._sockets.append(ins)
        if self.out_type < 0:
            outs = ins
        else:
            outs = ctx.socket(self.out_type)
            self._sockets.append(outs)
        # options first (ROUTING_ID must be set before connecting), then binds, then connects
        for opt, value in self._in_sockopts:
            ins.setsockopt(opt, value)
        for opt, value in self._out_sockopts:
            outs.setsockopt(opt, value)
        for addr in self._in_binds:
            ins.bind(addr)
        for addr in self._out_binds:
            outs.bind(addr)
        for addr in self._in_connects:
            ins.connect(addr)
        for addr in self._out_connects:
            outs.connect(addr)
        return ins, outs

    def run_device(self) -> None:
        """The device's body; called by :meth:`run`, in the device's thread or process."""
        from purezmq.devices.proxy import proxy

        ins, outs = self._setup_sockets()
        proxy(ins, outs)

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            if sock is not None and not sock.closed:
                sock.close()

    def run(self) -> None:
        """Run the device; a terminated context (or closed socket) is a clean end."""
        try:
            self.run_device()
        except ZMQError as e:
            if e.errno not in (C.ETERM, C.ENOTSOCK):
                raise
        finally:
            self.done = True
            self._close_sockets()

    def start(self) -> None:
        """Run in the calling thread (subclasses launch a thread or a process)."""
        return self.run()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the device has finished (like ``Thread.join``)."""
        start = time.monotonic()
        while not self.done:
            if timeout is not None and time.monotonic() - start > timeout:
                return
            time.sleep(0.001)


class BackgroundDevice(Device):
    """A device launched by ``_launch_class(target=self.run)``."""

    launcher: Any = None
    _launch_class: Any = None

    def start(self) -> None:
        self.launcher = self._launch_class(target=self.run)
        self.launcher.daemon = self.daemon
        return self.launcher.start()

    def join(self, timeout: float | None = None) -> None:
        return self.launcher.join(timeout=timeout)


class ThreadDevice(BackgroundDevice):
    """A device in a background thread (sharing ``Context.instance()``)."""

    _launch_class = Thread


class ProcessDevice(BackgroundDevice):
    """A device in a background process (with a fresh Context of its own)."""

    _launch_class = Process
    context_factory = Context
