"""MonitoredQueue devices: ``monitored_queue`` run in the background (pyzmq's classes)."""

from __future__ import annotations

from purezmq import constants as C
from purezmq.devices.proxydevice import ProcessProxy, Proxy, ProxyBase, ThreadProxy

__all__ = ["MonitoredQueue", "ThreadMonitoredQueue", "ProcessMonitoredQueue"]


class MonitoredQueueBase(ProxyBase):
    """A Proxy whose monitor copies carry ``in_prefix`` / ``out_prefix``."""

    _in_prefix = b""
    _out_prefix = b""

    def __init__(
        self, in_type: int, out_type: int, mon_type: int = C.PUB,
        in_prefix: bytes = b"in", out_prefix: bytes = b"out",
    ) -> None:
        ProxyBase.__init__(self, in_type=in_type, out_type=out_type, mon_type=mon_type)
        self._in_prefix = in_prefix
        self._out_prefix = out_prefix

    def run_device(self) -> None:
        from purezmq.devices.proxy import monitored_queue

        ins, outs, mons = self._setup_sockets()
        monitored_queue(ins, outs, mons, self._in_prefix, self._out_prefix)


class MonitoredQueue(MonitoredQueueBase, Proxy):
    """monitored_queue in the calling thread (see Proxy for the configuration methods)."""


class ThreadMonitoredQueue(MonitoredQueueBase, ThreadProxy):
    """monitored_queue in a background thread."""


class ProcessMonitoredQueue(MonitoredQueueBase, ProcessProxy):
    """monitored_queue in a background process."""
