"""Connection churn: clients connect, talk and close in a loop against one ROUTER for a few
seconds.  Afterwards the process has the same file descriptors and threads as before, the
ROUTER holds no stale peers or engines, and memory has not grown.
"""

from __future__ import annotations

import gc
import threading
import time

import pytest
import relmsg
import zmq as pyzmq

import purezmq as zmq

pytestmark = pytest.mark.timeout(60)

RUN = 3.0  # seconds of churn per test


class EchoRouter(threading.Thread):
    def __init__(self, ctx, ep: str) -> None:
        super().__init__(daemon=True)
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        self.sock.bind(ep)
        self.endpoint = self.sock.last_endpoint.decode()
        self.stop = threading.Event()
        self.served = 0

    def run(self) -> None:
        s = self.sock
        while not self.stop.is_set():
            if s.poll(50):
                s.send_multipart(s.recv_multipart())
                self.served += 1

    def internals(self) -> tuple[int, int]:
        """(attached peers, live I/O objects other than the listener)."""
        from purezmq.io.engine import StreamEngine

        engines = sum(1 for o in list(self.sock._io_objects) if isinstance(o, StreamEngine))
        return len(self.sock.peers), engines

    def close(self) -> None:
        self.stop.set()
        self.join(5)


def settle(router: EchoRouter, seconds: float = 3.0) -> tuple[int, int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        router.sock.poll(0)  # let the socket run its mailbox (detach the dead peers)
        state = router.internals()
        if state == (0, 0):
            return state
        time.sleep(0.05)
    return router.internals()


def snapshot() -> tuple[int, int, int]:
    gc.collect()
    return relmsg.fd_count(), threading.active_count(), relmsg.rss_kb()


@pytest.mark.parametrize("client", ["purezmq", "purezmq-own-context", "pyzmq"])
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_dealer_churn_leaks_nothing(client, transport, tmp_path):
    server_ctx = zmq.Context()
    ep = "tcp://127.0.0.1:0" if transport == "tcp" else f"ipc://{tmp_path}/churn"
    router = EchoRouter(server_ctx, ep)
    router.start()
    shared = zmq.Context() if client == "purezmq" else None
    lib = pyzmq if client == "pyzmq" else zmq
    pctx = pyzmq.Context() if client == "pyzmq" else None

    def one(i: int) -> None:
        ctx = shared or pctx or zmq.Context()
        d = ctx.socket(lib.DEALER)
        d.linger = 0
        d.connect(router.endpoint)
        msg = relmsg.make(i, size=100)
        d.send_multipart(msg)
        assert d.poll(5000), "no echo"
        assert d.recv_multipart() == msg
        d.close()
        if ctx is not shared and ctx is not pctx:
            ctx.term()

    for i in range(20):  # warm up: imports, caches, the I/O thread
        one(i)
    assert settle(router) == (0, 0)
    fds0, threads0, rss0 = snapshot()
    n = 0
    end = time.monotonic() + RUN
    while time.monotonic() < end:
        one(n)
        n += 1
    state = settle(router)
    fds1, threads1, rss1 = snapshot()
    router.close()
    if shared is not None:
        shared.term()
    if pctx is not None:
        pctx.term()
    router.sock.close()
    server_ctx.term()
    assert state == (0, 0), f"ROUTER still holds (peers, engines) = {state}"
    assert fds1 <= fds0, f"file descriptors {fds0} -> {fds1}"
    assert threads1 <= threads0, f"threads {threads0} -> {threads1}: {threading.enumerate()}"
    assert rss1 - rss0 < 10 * 1024, f"RSS {rss0} -> {rss1} KiB"
    print(f"\nFIGURES churn[{client},{transport}]: {n} connections in {RUN:.0f} s, "
          f"fds {fds0}->{fds1}, threads {threads0}->{threads1}, "
          f"RSS {rss0 / 1024:.1f}->{rss1 / 1024:.1f} MB")


def test_connect_disconnect_churn_on_one_socket(ctx):
    """connect()/disconnect() in a loop on one DEALER: sessions and peers do not pile up."""
    router = EchoRouter(ctx, "tcp://127.0.0.1:0")
    router.start()
    d = ctx.socket(zmq.DEALER)
    d.linger = 0
    for _ in range(20):
        d.connect(router.endpoint)
        d.disconnect(router.endpoint)
    time.sleep(0.3)
    fds0, threads0, rss0 = snapshot()
    n = 0
    end = time.monotonic() + RUN
    while time.monotonic() < end:
        d.connect(router.endpoint)
        d.send_multipart(relmsg.make(n, size=10))
        assert d.poll(5000)
        relmsg.check(d.recv_multipart())
        d.disconnect(router.endpoint)
        n += 1
    d.poll(0)
    state = settle(router)
    time.sleep(0.2)
    d.poll(0)
    fds1, threads1, rss1 = snapshot()
    sessions = len(d._io_objects)
    router.close()
    d.close()
    assert state == (0, 0), state
    assert sessions == 0, f"{sessions} I/O objects left on the DEALER"
    assert len(d.peers) == 0
    assert fds1 <= fds0 + 1, (fds0, fds1)
    assert threads1 <= threads0
    assert rss1 - rss0 < 10 * 1024
    print(f"\nFIGURES connect/disconnect churn: {n} cycles, fds {fds0}->{fds1}, "
          f"RSS {rss0 / 1024:.1f}->{rss1 / 1024:.1f} MB")


def test_context_churn_joins_its_threads():
    """A context per iteration (socket, bind, connect, term): no thread or fd survives."""
    for _ in range(5):
        c = zmq.Context()
        c.socket(zmq.PUSH).close()
        c.term()
    fds0, threads0, rss0 = snapshot()
    n = 0
    end = time.monotonic() + RUN / 2
    while time.monotonic() < end:
        c = zmq.Context()
        a = c.socket(zmq.PAIR)
        a.bind("tcp://127.0.0.1:0")
        b = c.socket(zmq.PAIR)
        b.connect(a.last_endpoint.decode())
        b.send(b"x")
        assert a.recv() == b"x"
        a.close(0)
        b.close(0)
        c.term()
        n += 1
    fds1, threads1, rss1 = snapshot()
    assert fds1 <= fds0, (fds0, fds1)
    assert threads1 <= threads0, threading.enumerate()
    assert rss1 - rss0 < 10 * 1024
    print(f"\nFIGURES context churn: {n} contexts, fds {fds0}->{fds1}, threads "
          f"{threads0}->{threads1}, RSS {rss0 / 1024:.1f}->{rss1 / 1024:.1f} MB")
