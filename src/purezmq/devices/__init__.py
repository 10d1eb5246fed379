"""Devices: proxies and queues run in the background (pyzmq's ``zmq.devices``).

The proxy functions themselves (``proxy``, ``proxy_steerable``, ``device``,
``monitored_queue``) live in :mod:`purezmq.devices.proxy` (``purezmq.proxy`` etc. are
re-exported at the top level); the classes here create their sockets in the thread or
process that runs them.
"""

from __future__ import annotations

from purezmq.devices.basedevice import Device, ProcessDevice, ThreadDevice
from purezmq.devices.monitoredqueue import monitored_queue
from purezmq.devices.monitoredqueuedevice import (
    MonitoredQueue,
    ProcessMonitoredQueue,
    ThreadMonitoredQueue,
)
from purezmq.devices.proxydevice import ProcessProxy, Proxy, ThreadProxy
from purezmq.devices.proxysteerabledevice import (
    ProcessProxySteerable,
    ProxySteerable,
    ThreadProxySteerable,
)

__all__ = [
    "Device",
    "ThreadDevice",
    "ProcessDevice",
    "Proxy",
    "ThreadProxy",
    "ProcessProxy",
    "ProxySteerable",
    "ThreadProxySteerable",
    "ProcessProxySteerable",
    "MonitoredQueue",
    "ThreadMonitoredQueue",
    "ProcessMonitoredQueue",
    "monitored_queue",
]
