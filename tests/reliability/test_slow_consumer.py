"""Consumers that stop reading: senders block (or get Again) or drop at the high-water mark,
and memory stays flat while they keep trying.

The receiving socket is in this process too (purezmq, or pyzmq as the reference), so the
resident size measured covers both ends; both are bounded by their HWMs.
"""

from __future__ import annotations

import threading
import time

import pytest
import relmsg

import purezmq as zmq

pytestmark = pytest.mark.timeout(40)

MSG = 1000  # bytes per message
HWM = 1000
RUN = 3.0  # seconds of sustained pressure
RSS_BOUND_KB = 30 * 1024


def receiver(lib: str, kind: str, ep: str):
    if lib == "pyzmq":
        import zmq as z

        c = z.Context()
        s = c.socket(getattr(z, kind))
    else:
        c = zmq.Context()
        s = c.socket(getattr(zmq, kind))
    s.rcvhwm = HWM
    s.linger = 0
    if kind == "SUB":
        s.setsockopt(zmq.SUBSCRIBE, b"")
    s.bind(ep)
    return c, s


class RssProbe:
    """Samples this process's RSS every 50 ms; ``growth()`` is peak minus the baseline."""

    def __init__(self) -> None:
        self.base = relmsg.rss_kb()
        self.peak = self.base
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            rss = relmsg.rss_kb()
            self.samples.append(rss)
            self.peak = max(self.peak, rss)

    def stop(self) -> int:
        self._stop.set()
        self._t.join()
        return self.peak - self.base


def connect_and_wait_for_handshake(s, ep: str) -> None:
    """Connect, then wait for the handshake (the monitor goes on first: an event before it
    would be missed)."""
    mon = s.get_monitor_socket()
    s.connect(ep)
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline:
            if mon.poll(100):
                ev = mon.recv_multipart()
                if int.from_bytes(ev[0][:2], "little") == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    return
        raise TimeoutError("no handshake")
    finally:
        s.disable_monitor()
        mon.close(0)


@pytest.mark.parametrize("lib", ["purezmq", "pyzmq"])
def test_push_gets_again_at_hwm_and_memory_stays_flat(ctx, lib):
    ep = f"tcp://127.0.0.1:{relmsg.free_port()}"
    rctx, pull = receiver(lib, "PULL", ep)
    try:
        push = ctx.socket(zmq.PUSH)
        push.sndhwm = HWM
        push.sndtimeo = 100
        connect_and_wait_for_handshake(push, ep)
        sent = 0
        # Fill: the sender's pipe, the kernel buffers both ways, the receiver's pipe.
        while True:
            try:
                push.send_multipart(relmsg.make(sent, size=MSG))
            except zmq.Again:
                break
            sent += 1
            assert sent < 200_000, "PUSH never pushed back"
        filled = sent
        probe = RssProbe()
        # Keep pushing against the wall: every attempt must time out, nothing may pile up.
        end = time.monotonic() + RUN
        againsts = 0
        push.sndtimeo = 10
        while time.monotonic() < end:
            try:
                push.send_multipart(relmsg.make(sent, size=MSG))
                sent += 1
            except zmq.Again:
                againsts += 1
        growth = probe.stop()
        assert sent - filled <= 10, "PUSH accepted messages past its HWM"
        # A blocking send (no timeout) waits, and goes on once the consumer reads again.
        push.sndtimeo = -1
        done = threading.Event()

        def blocked_send() -> None:
            push.send_multipart(relmsg.make(sent, size=MSG))
            done.set()

        t = threading.Thread(target=blocked_send, daemon=True)
        t.start()
        assert not done.wait(0.5), "send did not block at the HWM"
        got = []
        while not done.is_set() or pull.poll(200):
            if pull.poll(100):
                got.append(relmsg.check(pull.recv_multipart())[1])
        t.join(5)
        assert got == list(range(sent + 1)), "lost, repeated or reordered under back-pressure"
        assert growth < RSS_BOUND_KB
        print(f"\nFIGURES slow PULL[{lib}]: {filled} msgs of {MSG} B queued before Again, "
              f"{againsts} Again in {RUN:.0f} s, RSS {probe.base // 1024} MB "
              f"+{growth / 1024:.1f} MB, {len(got)} delivered in order after resuming")
        push.close(0)
    finally:
        pull.close(0)
        rctx.term()


@pytest.mark.parametrize("lib", ["purezmq", "pyzmq"])
def test_pub_drops_for_a_stalled_sub_and_memory_stays_flat(ctx, lib):
    ep = f"tcp://127.0.0.1:{relmsg.free_port()}"
    rctx, sub = receiver(lib, "SUB", ep)
    try:
        pub = ctx.socket(zmq.PUB)
        pub.sndhwm = HWM
        pub.connect(ep)
        # A bound SUB sends its subscription when it next processes commands (as libzmq):
        # touch it while the connection comes up, then let it stall.
        for _ in range(3):
            sub.poll(100)
        time.sleep(0.1)
        probe = RssProbe()
        end = time.monotonic() + RUN
        sent = 0
        while time.monotonic() < end:
            for _ in range(100):
                pub.send_multipart(relmsg.make(sent, size=MSG))  # never blocks
                sent += 1
        growth = probe.stop()
        got = []
        while sub.poll(300):
            got.append(relmsg.check(sub.recv_multipart())[1])
        assert got and got == sorted(set(got)), "repeated or reordered"
        dropped = sent - len(got)
        assert dropped > 0
        assert len(got) < 50_000, "the subscriber buffered far past its HWM"
        assert growth < RSS_BOUND_KB
        print(f"\nFIGURES slow SUB[{lib}]: sent {sent} in {RUN:.0f} s, delivered {len(got)}, "
              f"dropped {dropped}, RSS {probe.base // 1024} MB +{growth / 1024:.1f} MB")
        pub.close(0)
    finally:
        sub.close(0)
        rctx.term()


def test_router_drops_or_refuses_for_a_stalled_dealer(ctx):
    """ROUTER drops for a full peer; with ROUTER_MANDATORY it raises Again instead."""
    ep = f"tcp://127.0.0.1:{relmsg.free_port()}"
    router = ctx.socket(zmq.ROUTER)
    router.sndhwm = HWM
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.sndtimeo = 50
    router.bind(ep)
    dealer = ctx.socket(zmq.DEALER)
    dealer.rcvhwm = HWM
    dealer.setsockopt(zmq.ROUTING_ID, b"slow")
    dealer.connect(ep)
    dealer.send(b"hello")
    assert router.recv_multipart() == [b"slow", b"hello"]
    probe = RssProbe()
    sent = 0
    with pytest.raises(zmq.Again):
        while True:
            router.send_multipart([b"slow", *relmsg.make(sent, size=MSG)])
            sent += 1
            assert sent < 200_000
    router.setsockopt(zmq.ROUTER_MANDATORY, 0)
    for i in range(20_000):  # silently dropped now
        router.send_multipart([b"slow", *relmsg.make(sent + i, size=MSG)])
    growth = probe.stop()
    got = []
    while dealer.poll(300):
        got.append(relmsg.check(dealer.recv_multipart())[1])
    assert got[: sent] == list(range(sent))
    assert growth < RSS_BOUND_KB
    print(f"\nFIGURES slow DEALER: ROUTER_MANDATORY Again after {sent}, delivered {len(got)}, "
          f"RSS +{growth / 1024:.1f} MB")
