"""``CONNECT_TIMEOUT``: a connect that the network swallows (no SYN-ACK, no RST) is abandoned
and retried, instead of waiting for the kernel's SYN back-off (1, 3, 7, 15, 31 s...).

A listener whose backlog is full drops SYNs on Linux: that makes a swallowing peer on
127.0.0.1 without any network set-up.  pyzmq (libzmq) runs the same test as the reference.
"""

from __future__ import annotations

import socket
import struct
import sys
import time

import pytest
import zmq as pyzmq

import purezmq as zmq

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux backlog behaviour"),
]


def swallowing_listener():
    """A listening socket that no longer answers SYNs, and the sockets filling it."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(lst.getsockname())
        fillers.append(s)
    time.sleep(0.2)
    return lst, fillers


@pytest.mark.parametrize("lib", ["purezmq", "pyzmq"])
def test_connect_timeout_retries_a_swallowed_connect(lib):
    z = zmq if lib == "purezmq" else pyzmq
    lst, fillers = swallowing_listener()
    ctx = z.Context()
    d = ctx.socket(z.DEALER)
    d.linger = 0
    d.setsockopt(z.CONNECT_TIMEOUT, 200)
    d.setsockopt(z.RECONNECT_IVL, 50)
    mon = d.get_monitor_socket()
    try:
        d.connect(f"tcp://127.0.0.1:{lst.getsockname()[1]}")
        closed = []
        start = time.monotonic()
        while time.monotonic() - start < 1.5:
            if mon.poll(100):
                event = struct.unpack("<HI", mon.recv_multipart()[0][:6])[0]
                if event == z.EVENT_CLOSED:
                    closed.append(time.monotonic() - start)
        # Let the backlog drain: the next attempt gets through.
        for s in fillers:
            s.close()
        conns = []
        lst.settimeout(0.2)
        deadline = time.monotonic() + 5
        connected = False
        while time.monotonic() < deadline and not connected:
            try:
                conns.append(lst.accept()[0])
            except socket.timeout:  # TimeoutError from Python 3.10
                pass
            while mon.poll(0):
                event = struct.unpack("<HI", mon.recv_multipart()[0][:6])[0]
                connected |= event == z.EVENT_CONNECTED
        for c in conns:
            c.close()
    finally:
        d.close()
        mon.close()
        ctx.term()
        lst.close()
    assert len(closed) >= 3, f"{lib}: attempts abandoned at {closed}"
    assert closed[0] < 0.6
    assert connected, f"{lib}: never connected once the listener answered"
    print(f"\nFIGURES CONNECT_TIMEOUT=200 [{lib}]: attempts abandoned at "
          + ", ".join(f"{t * 1000:.0f}" for t in closed) + " ms")
