"""A peer process is SIGKILLed mid-stream and restarted on the same endpoint.

The survivor is a purezmq socket in this process; the peer is ``peer.py`` with pyzmq
(libzmq) or purezmq.  Every message carries a sequence number and a checksum
(:mod:`relmsg`): whatever arrives must be intact, in order, and never twice; messages that
were in flight when the peer died may be lost (ZeroMQ guarantees nothing about them), and
the number lost is printed.  The survivor's ``RECONNECT_IVL_MAX`` bounds how long it takes
to find the restarted peer.
"""

from __future__ import annotations

import threading
import time

import pytest
import relmsg
from procs import PeerProcess

import purezmq as zmq

pytestmark = pytest.mark.timeout(30)

LIBS = ["pyzmq", "purezmq"]
IVL = 20
IVL_MAX = 300  # ms: the survivor retries at least this often
# From the restarted peer's bind to traffic: one reconnect period, a handshake, slack for a
# loaded 2-core machine.
RECONNECT_BOUND = IVL_MAX / 1000 + 1.0
DOWN_TIME = 0.5  # the peer stays dead long enough for the back-off to reach its maximum


def survivor(ctx, kind):
    s = ctx.socket(kind)
    s.linger = 0
    s.reconnect_ivl = IVL
    s.reconnect_ivl_max = IVL_MAX
    return s


def endpoint() -> str:
    return f"tcp://127.0.0.1:{relmsg.free_port()}"


def seqs(peer: PeerProcess, gen: int | None = None) -> list[int]:
    return [s for g, s, _t in peer.received if gen is None or g == gen]


def assert_increasing(values: list[int], what: str) -> None:
    bad = [(a, b) for a, b in zip(values, values[1:]) if b <= a]
    assert not bad, f"{what}: out of order or duplicated: {bad[:5]}"


class Runner(threading.Thread):
    """Runs ``step()`` in a loop until stopped; the socket it uses belongs to this thread."""

    def __init__(self, step) -> None:
        super().__init__(daemon=True)
        self.step = step
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.step()
        except BaseException as e:  # reported by finish()
            self.error = e

    def finish(self) -> None:
        self.stop.set()
        self.join(10)
        assert not self.is_alive(), "runner did not stop"
        if self.error is not None:
            raise self.error


def restart(lib, role, ep, *args, wait=300, **kw):
    """Start a peer, wait for ``wait`` messages, SIGKILL it; return it and its successor."""
    first = PeerProcess(lib, role, "bind", ep, "--gen", "0", *args, **kw)
    first.wait_ready()
    first.wait_count(wait)
    first.kill()
    time.sleep(DOWN_TIME)
    second = PeerProcess(lib, role, "bind", ep, "--gen", "1", *args, **kw)
    return first, second


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
@pytest.mark.parametrize("lib", LIBS)
def test_push_survives_pull_restart(ctx, lib, transport, tmp_path):
    ep = endpoint() if transport == "tcp" else f"ipc://{tmp_path}/pull"
    push = survivor(ctx, zmq.PUSH)
    push.sndtimeo = 50
    push.connect(ep)
    seq = [0]

    def send() -> None:
        try:
            push.send_multipart(relmsg.make(seq[0]))
        except zmq.Again:
            return
        seq[0] += 1

    runner = Runner(send)
    runner.start()
    first, second = restart(lib, "pull", ep, wait=2000)
    with first, second:
        ready = second.wait_ready()
        second.wait_count(2000)
        runner.finish()
        a, b = seqs(first), seqs(second)
        assert not first.bad and not second.bad
        assert_increasing(a, "first peer")
        assert_increasing(b, "second peer")
        assert b[0] > a[-1], "a message received by the dead peer was sent again"
        took = second.received[0][2] - ready
        assert took < RECONNECT_BOUND
        print(f"\nFIGURES push->pull[{lib},{transport}] sent={seq[0]} recv={len(a) + len(b)} "
              f"lost={b[0] - a[-1] - 1} reconnect={took * 1000:.0f}ms")


@pytest.mark.parametrize("lib", LIBS)
def test_pull_survives_push_restart(ctx, lib):
    ep = endpoint()
    pull = survivor(ctx, zmq.PULL)
    pull.rcvtimeo = 50
    pull.connect(ep)
    got: list[tuple[int, int, float]] = []

    def recv() -> None:
        try:
            msg = pull.recv_multipart()
        except zmq.Again:
            return
        gen, s = relmsg.check(msg)
        got.append((gen, s, time.monotonic()))

    runner = Runner(recv)
    runner.start()
    first = PeerProcess(lib, "push", "bind", ep, "--gen", "0", "--rate", "20000")
    with first:
        first.wait_ready()
        deadline = time.monotonic() + 10
        while len(got) < 2000 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.kill()
    time.sleep(DOWN_TIME)
    with PeerProcess(lib, "push", "bind", ep, "--gen", "1", "--rate", "20000") as second:
        ready = second.wait_ready()
        deadline = time.monotonic() + 10
        while sum(1 for g in got if g[0] == 1) < 2000 and time.monotonic() < deadline:
            time.sleep(0.01)
    runner.finish()
    gen0 = [s for g, s, _ in got if g == 0]
    gen1 = [s for g, s, _ in got if g == 1]
    assert len(gen0) >= 2000 and len(gen1) >= 2000
    assert_increasing(gen0, "generation 0")
    assert_increasing(gen1, "generation 1")
    assert gen0 == list(range(len(gen0))) and gen1 == list(range(len(gen1))), "a gap"
    took = next(t for g, _s, t in got if g == 1) - ready
    assert took < RECONNECT_BOUND
    print(f"\nFIGURES pull<-push[{lib}] recv={len(got)} reconnect={took * 1000:.0f}ms")


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("variant", ["recreate", "relaxed"])
def test_lazy_pirate_req_survives_rep_restart(ctx, lib, variant):
    """The Lazy Pirate client: on a timeout, re-create the REQ (or, with REQ_RELAXED and
    REQ_CORRELATE, just send again) and retry the same request."""
    ep = endpoint()
    timeout_ms = 250

    def make_req():
        s = survivor(ctx, zmq.REQ)
        if variant == "relaxed":
            s.setsockopt(zmq.REQ_RELAXED, 1)
            s.setsockopt(zmq.REQ_CORRELATE, 1)
        s.connect(ep)
        return s

    req = [make_req()]
    replies: list[tuple[int, float]] = []
    retries = [0]
    seq = [0]

    def step() -> None:
        s = req[0]
        request = relmsg.make(seq[0])
        s.send_multipart(request)
        while True:
            if s.poll(timeout_ms, zmq.POLLIN):
                reply = s.recv_multipart()
                assert reply == request, "a reply to another request"
                replies.append((seq[0], time.monotonic()))
                seq[0] += 1
                return
            retries[0] += 1
            if variant == "recreate":
                s.close(0)
                s = req[0] = make_req()
            if runner.stop.is_set():
                return
            s.send_multipart(request)

    runner = Runner(step)
    runner.start()
    first, second = restart(lib, "rep", ep, wait=300)
    with first, second:
        ready = second.wait_ready()
        second.wait_count(300)
        runner.finish()
    req[0].close(0)
    got = [s for s, _ in replies]
    assert got == list(range(len(got))), "a reply lost, repeated or out of order"
    took = next(t for _s, t in replies if t > ready) - ready
    assert took < RECONNECT_BOUND + timeout_ms / 1000
    assert not first.bad and not second.bad
    print(f"\nFIGURES lazy-pirate[{variant},{lib}] replies={len(got)} retries={retries[0]} "
          f"recovery={took * 1000:.0f}ms")


@pytest.mark.parametrize("lib", LIBS)
def test_dealer_survives_router_restart(ctx, lib):
    ep = endpoint()
    dealer = survivor(ctx, zmq.DEALER)
    dealer.connect(ep)
    echoes: list[tuple[int, int, float]] = []
    seq = [0]

    def step() -> None:
        # About 5000 requests/s; a request lost with the dead peer is not waited for.
        try:
            dealer.send_multipart(relmsg.make(seq[0]), zmq.DONTWAIT)
            seq[0] += 1
        except zmq.Again:
            pass
        while dealer.poll(0):
            gen, s = relmsg.check(dealer.recv_multipart())
            echoes.append((gen, s, time.monotonic()))
        time.sleep(0.0002)

    runner = Runner(step)
    runner.start()
    first, second = restart(lib, "router", ep, wait=1000)
    with first, second:
        ready = second.wait_ready()
        second.wait_count(1000)
        runner.finish()
    got = [s for _g, s, _t in echoes]
    assert_increasing(got, "echoes")
    a, b = seqs(first), seqs(second)
    assert_increasing(a, "first router")
    assert_increasing(b, "second router")
    assert not set(a) & set(b), "a request reached both routers"
    took = second.received[0][2] - ready
    assert took < RECONNECT_BOUND
    print(f"\nFIGURES dealer->router[{lib}] sent={seq[0]} echoed={len(got)} "
          f"lost={seq[0] - len(got)} reconnect={took * 1000:.0f}ms")


@pytest.mark.parametrize("lib", LIBS)
def test_sub_survives_pub_restart(ctx, lib):
    """SUB re-subscribes on the new connection; drops are allowed, disorder is not."""
    ep = endpoint()
    sub = survivor(ctx, zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.rcvtimeo = 50
    sub.connect(ep)
    got: list[tuple[int, int, float]] = []

    def recv() -> None:
        try:
            msg = sub.recv_multipart()
        except zmq.Again:
            return
        gen, s = relmsg.check(msg)
        got.append((gen, s, time.monotonic()))

    runner = Runner(recv)
    runner.start()
    with PeerProcess(lib, "pub", "bind", ep, "--gen", "0", "--rate", "5000") as first:
        first.wait_ready()
        deadline = time.monotonic() + 10
        while len(got) < 1000 and time.monotonic() < deadline:
            time.sleep(0.01)
    time.sleep(DOWN_TIME)
    with PeerProcess(lib, "pub", "bind", ep, "--gen", "1", "--rate", "5000") as second:
        ready = second.wait_ready()
        deadline = time.monotonic() + 10
        while sum(1 for g in got if g[0] == 1) < 1000 and time.monotonic() < deadline:
            time.sleep(0.01)
    runner.finish()
    gen0 = [s for g, s, _ in got if g == 0]
    gen1 = [s for g, s, _ in got if g == 1]
    assert len(gen0) >= 1000 and len(gen1) >= 1000, (len(gen0), len(gen1))
    assert_increasing(gen0, "generation 0")
    assert_increasing(gen1, "generation 1")
    took = next(t for g, _s, t in got if g == 1) - ready
    assert took < RECONNECT_BOUND
    print(f"\nFIGURES sub<-pub[{lib}] recv={len(got)} first-gen1-seq={gen1[0]} "
          f"reconnect={took * 1000:.0f}ms")


@pytest.mark.parametrize("lib", LIBS)
def test_pub_survives_sub_restart(ctx, lib):
    """The restarted SUB's subscription reaches the surviving PUB again."""
    ep = endpoint()
    pub = survivor(ctx, zmq.PUB)
    pub.connect(ep)
    seq = [0]

    def send() -> None:
        pub.send_multipart(relmsg.make(seq[0]))
        seq[0] += 1
        time.sleep(0.0002)

    runner = Runner(send)
    runner.start()
    first, second = restart(lib, "sub", ep, wait=1000)
    with first, second:
        ready = second.wait_ready()
        second.wait_count(1000)
        runner.finish()
    a, b = seqs(first), seqs(second)
    assert_increasing(a, "first sub")
    assert_increasing(b, "second sub")
    assert b[0] > a[-1]
    took = second.received[0][2] - ready
    assert took < RECONNECT_BOUND
    print(f"\nFIGURES pub->sub[{lib}] sent={seq[0]} recv={len(a) + len(b)} "
          f"reconnect={took * 1000:.0f}ms")


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("kind", ["router", "rep"])
def test_server_survives_client_restart(ctx, lib, kind):
    """A bound ROUTER (or REP) keeps serving when its client dies mid-request and a new
    process with the same routing id comes back."""
    ep = endpoint()
    server = survivor(ctx, zmq.ROUTER if kind == "router" else zmq.REP)
    server.rcvtimeo = 50
    server.bind(ep)
    seen: list[tuple[int, int]] = []

    def serve() -> None:
        try:
            msg = server.recv_multipart()
        except zmq.Again:
            return
        seen.append(relmsg.check(msg[-2:]))
        server.send_multipart(msg)

    runner = Runner(serve)
    runner.start()
    role = "dealer" if kind == "router" else "req"
    args = ("--identity", "client-A")
    with PeerProcess(lib, role, "connect", ep, "--gen", "0", *args) as first:
        first.wait_count(300)
    with PeerProcess(lib, role, "connect", ep, "--gen", "1", *args) as second:
        ready = second.wait_ready()
        second.wait_count(300)
        took = second.received[0][2] - ready
    runner.finish()
    for gen in (0, 1):
        got = [s for g, s in seen if g == gen]
        assert got == list(range(len(got))), f"generation {gen}: a gap, repeat or disorder"
    assert took < RECONNECT_BOUND
    print(f"\nFIGURES {kind}<-client[{lib}] served={len(seen)} first-reply={took * 1000:.0f}ms")
