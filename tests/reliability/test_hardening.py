"""Hardening, round two (issue 18): each attack run against purezmq and against libzmq (via
pyzmq), each server in its own process (``probe.py``) so its memory and CPU are its own.

The comparisons are measurements, not races: bounds are generous, and the figures printed
(``FIGURES`` lines, ``pytest -s``) are the ones RELIABILITY.md quotes.
"""

from __future__ import annotations

import gc
import socket
import struct
import subprocess
import sys
import time
import weakref
from pathlib import Path

import hostile
import procs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import purezmq as zmq

pytestmark = pytest.mark.timeout(90)

HERE = Path(__file__).resolve().parent
LIBS = ["purezmq", "pyzmq"]
MiB = 1024


class Probe:
    """A ``probe.py`` process: a bound socket that answers measurement commands."""

    def __init__(self, lib: str, stype: str, *args: str) -> None:
        self.lib = lib
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "probe.py"), lib, stype, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=procs.child_env(), text=True,
        )
        self.port = int(self._line().split()[1])

    def _line(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"probe ({self.lib}) died: rc={self.proc.poll()}")
        return line

    def ask(self, cmd: str) -> float:
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return float(self._line().split()[1]) if cmd != "release" else 0.0

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Probe:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _settled_rss(p: Probe, wait: float = 0.6) -> int:
    time.sleep(wait)
    return int(p.ask("rss"))


def _announce(port: int, size: int, body: int) -> socket.socket:
    """A handshaken PUSH peer that announces a ``size``-byte frame and sends ``body`` of it."""
    c = hostile._handshaken("127.0.0.1", port, "PULL", None)
    hostile._send(c, hostile.long_header(size) + b"x" * body)
    return c


def _memory_by_announcement(lib: str) -> dict[str, int]:
    with Probe(lib, "PULL") as p:
        base = _settled_rss(p, 0.3)
        peers = [_announce(p.port, 64 << 20, 1000) for _ in range(6)]
        six = _settled_rss(p) - base
        for c in peers:
            c.close()
        after_six = _settled_rss(p) - base
        for _ in range(10):  # ten in turn, each sending 1 MiB of its 64 MiB, then leaving
            c = _announce(p.port, 64 << 20, 1 << 20)
            time.sleep(0.15)
            c.close()
        ten = _settled_rss(p) - base
        return {"six": six, "after_six": after_six, "ten": ten}


@pytest.mark.timeout(120)
def test_memory_grows_with_bytes_received_not_with_announced_sizes():
    """Six peers announce 64 MiB frames and send 1 kB; then ten in turn send 1 MiB of one and
    leave.  Before the fix purezmq held 384 MiB, then 640 MiB; libzmq holds nothing."""
    got = {lib: _memory_by_announcement(lib) for lib in LIBS}
    print("\nFIGURES memory by announcement (RSS growth, MiB): " + "; ".join(
        f"{lib}: six announcers {v['six'] / MiB:.1f}, after they left "
        f"{v['after_six'] / MiB:.1f}, after ten 1 MiB-of-64 MiB peers {v['ten'] / MiB:.1f}"
        for lib, v in got.items()))
    ours, theirs = got["purezmq"], got["pyzmq"]
    for key in ("six", "after_six", "ten"):
        # libzmq's figure plus 16 MiB of slack (allocator arenas, one 1 MiB read in flight)
        assert ours[key] <= max(theirs[key], 0) + 16 * MiB, (key, ours, theirs)


def test_a_closed_connection_frees_its_buffers_without_the_cycle_collector(ctx, monkeypatch):
    from purezmq.io.engine import StreamEngine
    from purezmq.zmtp import connection

    monkeypatch.setattr(connection, "_sinks", [])  # no spare from earlier tests: fresh memory

    s = ctx.socket(zmq.PULL)
    port = s.bind_to_random_port("tcp://127.0.0.1")
    gc.collect()
    gc.disable()
    try:
        c = _announce(port, 64 << 20, 300_000)
        deadline = time.monotonic() + 5
        engine = None
        while time.monotonic() < deadline:
            engines = [o for o in list(s._io_objects) if isinstance(o, StreamEngine)]
            if engines and engines[0].conn.held_bytes >= 300_000:
                engine = engines[0]
                break
            time.sleep(0.02)
        assert engine is not None, "the frame never arrived"
        held = engine.conn.held_bytes
        assert held < 2 * 300_000 + (1 << 17), held  # grown with what came, not 64 MiB
        dead = weakref.ref(engine)
        conn = weakref.ref(engine.conn)
        peer = weakref.ref(engine.peer)
        del engine, engines
        c.close()
        refs = (dead, conn, peer)
        while time.monotonic() < deadline and any(r() is not None for r in refs):
            s.poll(10)  # (the socket takes the detach of the peer when it is next used)
        assert dead() is None and conn() is None, "the closed engine is still reachable"
        assert peer() is None, "the closed connection's peer is still reachable"
    finally:
        gc.enable()


# -- REQ: stale replies and second answers (libzmq's req.cpp) ---------------------------------
def _router_knows(router, rid: bytes) -> None:
    """Wait until the (pyzmq) ROUTER can address ``rid`` (ROUTER_MANDATORY probes it)."""
    import zmq as pyzmq

    end = time.monotonic() + 5
    while True:
        try:
            router.send_multipart([rid, b"", b"probe"], flags=pyzmq.NOBLOCK)
            return
        except pyzmq.ZMQError:
            assert time.monotonic() < end, "the REQ never connected"
            time.sleep(0.01)


def _settle() -> None:
    """Let what was sent reach the other socket's queue (staging, not an assertion)."""
    time.sleep(0.5)


@pytest.mark.parametrize("lib", LIBS)
def test_req_drops_an_early_reply_and_a_second_answer(lib):
    """A ROUTER answers before being asked, then answers one request twice: REQ returns
    only the answer to each request, as libzmq's REQ does (it drops what is queued when it
    sends a request)."""
    import zmq as pyzmq

    z = pyzmq if lib == "pyzmq" else zmq
    sctx, cctx = pyzmq.Context(), z.Context()
    router = sctx.socket(pyzmq.ROUTER)
    router.router_mandatory = 1
    router.linger = 0
    req = cctx.socket(z.REQ)
    req.linger = 0
    req.rcvtimeo = 5000
    req.routing_id = b"req"
    try:
        port = router.bind_to_random_port("tcp://127.0.0.1")
        req.connect(f"tcp://127.0.0.1:{port}")
        _router_knows(router, b"req")  # the probe itself is an early reply too
        router.send_multipart([b"req", b"", b"early"])
        _settle()
        req.send(b"one")
        assert router.recv_multipart(flags=0)[2] == b"one"
        router.send_multipart([b"req", b"", b"answer one"])
        router.send_multipart([b"req", b"", b"answer one, again"])
        assert req.recv() == b"answer one"
        _settle()
        req.send(b"two")
        assert router.recv_multipart()[2] == b"two"
        router.send_multipart([b"req", b"", b"answer two"])
        assert req.recv() == b"answer two"
    finally:
        req.close(0)
        router.close(0)
        cctx.term()
        sctx.term()


@pytest.mark.parametrize("lib", LIBS)
def test_req_relaxed_correlate_skips_answers_to_older_requests(lib):
    import zmq as pyzmq

    z = pyzmq if lib == "pyzmq" else zmq
    sctx, cctx = pyzmq.Context(), z.Context()
    router = sctx.socket(pyzmq.ROUTER)
    router.linger = 0
    req = cctx.socket(z.REQ)
    req.linger = 0
    req.rcvtimeo = 5000
    req.setsockopt(z.REQ_RELAXED, 1)
    req.setsockopt(z.REQ_CORRELATE, 1)
    try:
        port = router.bind_to_random_port("tcp://127.0.0.1")
        req.connect(f"tcp://127.0.0.1:{port}")
        req.send(b"one")
        rid, id1, _, body = router.recv_multipart()
        assert body == b"one"
        req.send(b"two")  # relaxed: no answer needed first
        rid, id2, _, body = router.recv_multipart()
        assert body == b"two" and id1 != id2
        router.send_multipart([rid, id1, b"", b"answer one"])  # to the older request
        router.send_multipart([rid, id2, b"", b"answer two"])
        assert req.recv() == b"answer two"
        router.send_multipart([rid, id2, b"", b"answer two, again"])
        _settle()
        req.send(b"three")  # the duplicate is dropped here
        rid, id3, _, _ = router.recv_multipart()
        router.send_multipart([rid, id3, b"", b"answer three"])
        assert req.recv() == b"answer three"
    finally:
        req.close(0)
        router.close(0)
        cctx.term()
        sctx.term()


# -- a subscriber with 2,000 prefixes of 2,000 lengths ----------------------------------------
def _sync(pub, sub, topic: bytes) -> None:
    """Publish ``topic`` until ``sub`` gets it: every subscription sent before it arrived."""
    end = time.monotonic() + 10
    while not sub.poll(20):
        pub.send(topic)
        assert time.monotonic() < end, "subscriptions never reached the publisher"
    while sub.poll(50):
        sub.recv()


def _publish_time(z, hostile_prefixes: list[bytes], count: int) -> float:
    ctx = z.Context()
    pub = ctx.socket(z.PUB)
    pub.linger = 0
    pub.sndhwm = 0  # keep every message: matching is what is measured, not dropping
    good = ctx.socket(z.SUB)
    bad = ctx.socket(z.SUB)
    try:
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        for s in (good, bad):
            s.linger = 0
            s.sndhwm = 0  # libzmq drops subscriptions past the HWM of a fresh connection
            s.connect(f"tcp://127.0.0.1:{port}")
        good.subscribe(b"news.")
        for prefix in hostile_prefixes:
            bad.subscribe(prefix)
        bad.subscribe(b"sync")
        _sync(pub, bad, b"sync")
        msg = b"news.weather " + b"x" * 50
        t0 = time.perf_counter()
        for _ in range(count):
            pub.send(msg)
        took = time.perf_counter() - t0
        return took
    finally:
        for s in (pub, good, bad):
            s.close(0)
        ctx.term()


@pytest.mark.timeout(180)
def test_a_hostile_subscriber_does_not_slow_the_publisher():
    """2,000 prefixes of 2,000 different lengths from one SUB: before, purezmq's publisher
    ran 30-90x slower (one lookup per length per message); libzmq's trie is unaffected."""
    import random

    import zmq as pyzmq

    rng = random.Random(11)
    # (none of them a prefix of the published topic: the hostile SUB receives nothing)
    hostile_prefixes = [b"\xfe" + rng.randbytes(n) for n in range(2000)]
    count = 30_000
    got = {}
    for name, z in (("purezmq", zmq), ("pyzmq", pyzmq)):
        plain = min(_publish_time(z, [], count) for _ in range(3))
        hostile = min(_publish_time(z, hostile_prefixes, count) for _ in range(3))
        got[name] = (count / plain, count / hostile)
    print("\nFIGURES publisher msgs/s without / with the hostile subscriber: " + "; ".join(
        f"{k}: {a:,.0f} / {b:,.0f} (x{a / b:.2f})" for k, (a, b) in got.items()))
    ours_plain, ours_hostile = got["purezmq"]
    assert ours_plain / ours_hostile < 4.0, got  # was 30-90 (the best of 3 runs each)


# -- churn, a bad ZAP reply, running out of descriptors ----------------------------------------
def _connect_close(port: int, count: int) -> tuple[float, float]:
    """``count`` tcp connects, each closed at once: total and worst seconds."""
    worst = 0.0
    t0 = time.perf_counter()
    for _ in range(count):
        t1 = time.perf_counter()
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
        worst = max(worst, time.perf_counter() - t1)
    return time.perf_counter() - t0, worst


@pytest.mark.timeout(120)
def test_connection_churn_at_libzmqs_pace():
    """1,000 connect/close in a row.  Before, a burst overflowed the listen queue (100, as
    libzmq's) faster than purezmq accepted, and each dropped connect waited for its SYN retry
    (1 s): 3-5 s in all.  The queue is now at least 1,024 and drained before set-up."""
    got = {}
    for lib in LIBS:
        with Probe(lib, "PULL") as p:
            cpu0 = p.ask("cpu")
            took, worst = _connect_close(p.port, 1000)
            got[lib] = (took, worst, p.ask("cpu") - cpu0)
    print("\nFIGURES 1,000 connect/close: " + "; ".join(
        f"{lib}: {t:.2f} s (worst connect {w * 1000:.0f} ms, server CPU {c:.2f} s)"
        for lib, (t, w, c) in got.items()))
    with open("/proc/sys/net/core/somaxconn") as f:
        if int(f.read()) < 1000:
            pytest.skip("net.core.somaxconn caps the accept queue below 1,000 here")
    assert got["purezmq"][1] < 0.9, got  # no connect waited for a SYN retry


def _zap_bad_request_id(z) -> float:
    """Seconds from a PLAIN client's connect to the server's HANDSHAKE_FAILED_PROTOCOL when
    the ZAP handler answers with a request id it was never given (HANDSHAKE_IVL is 30 s)."""
    ctx = z.Context()
    handler = ctx.socket(z.ROUTER)
    server = ctx.socket(z.PULL)
    client = ctx.socket(z.PUSH)
    mon = None
    try:
        handler.bind("inproc://zeromq.zap.01")
        server.plain_server = True
        server.linger = client.linger = handler.linger = 0
        mon = server.get_monitor_socket(z.EVENT_HANDSHAKE_FAILED_PROTOCOL)
        port = server.bind_to_random_port("tcp://127.0.0.1")
        client.plain_username, client.plain_password = b"user", b"pass"
        t0 = time.monotonic()
        client.connect(f"tcp://127.0.0.1:{port}")
        assert handler.poll(5000), "no ZAP request"
        req = handler.recv_multipart()
        handler.send_multipart(req[:2] + [b"1.0", req[3] + b"-not", b"200", b"OK", b"u", b""])
        assert mon.poll(10_000), "the handshake did not fail"
        took = time.monotonic() - t0
        event, value = struct.unpack("<HI", mon.recv_multipart()[0][:6])
        assert value == z.PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID
        return took
    finally:
        if mon is not None:
            server.disable_monitor()
            mon.close(0)
        for s in (client, server, handler):
            s.close(0)
        ctx.term()


def test_a_zap_reply_with_a_wrong_request_id_fails_the_handshake_at_once():
    import zmq as pyzmq

    got = {"purezmq": _zap_bad_request_id(zmq), "pyzmq": _zap_bad_request_id(pyzmq)}
    print("\nFIGURES ZAP reply with a wrong request id, handshake failed after: " + "; ".join(
        f"{lib}: {t * 1000:.0f} ms" for lib, t in got.items()))
    assert got["purezmq"] < 5.0  # HANDSHAKE_IVL is 30 s


@pytest.mark.timeout(60)
def test_a_listener_out_of_descriptors_backs_off_and_recovers():
    """The server process uses up its descriptors while five clients wait to be accepted:
    libzmq's listener spins on EMFILE; purezmq's stops listening for a while, and serves
    every client once descriptors are free again."""
    got: dict[str, tuple[float, int]] = {}
    for lib in LIBS:
        try:
            got[lib] = _out_of_descriptors(lib)
        except RuntimeError:  # the reference died of it: a figure, not our failure
            if lib == "purezmq":
                raise
            got[lib] = (float("nan"), 0)
    print("\nFIGURES out of descriptors, 2 s with 5 connections waiting: " + "; ".join(
        f"{lib}: {c * 100:.0f}% of a core, then {s}/5 served" for lib, (c, s) in got.items()))
    cpu, served = got["purezmq"]
    assert served == 5
    assert cpu < 0.25, got  # backing off, not spinning (a spin is ~100%)


def _out_of_descriptors(lib: str) -> tuple[float, int]:
    """(share of a core used while out of descriptors, clients served once freed)."""
    with Probe(lib, "PULL", "--fd-limit", "256") as p:
        p.ask("exhaust")
        clients = [socket.create_connection(("127.0.0.1", p.port)) for _ in range(5)]
        for c in clients:
            c.sendall(hostile.GREETING + hostile.ready("PUSH"))
        time.sleep(0.2)
        cpu0 = p.ask("cpu")
        t0 = time.monotonic()
        time.sleep(2.0)
        cpu = (p.ask("cpu") - cpu0) / (time.monotonic() - t0)
        p.ask("release")
        served = 0
        for c in clients:
            c.settimeout(10)
            got_bytes = b""
            try:
                while b"READY" not in got_bytes:
                    more = c.recv(4096)
                    if not more:
                        break
                    got_bytes += more
            except OSError:
                pass
            served += b"READY" in got_bytes
            c.close()
        return cpu, served


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3)), min_size=1, max_size=6))
def test_req_takes_only_the_first_answer_to_each_request(rounds):
    """Any mix of stale replies before a request and repeated answers after it (inproc: each
    reaches the REQ's queue at once): every recv() is the first answer to its request."""
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    req = ctx.socket(zmq.REQ)
    try:
        router.bind("inproc://req-rounds")
        req.routing_id = b"r"
        req.rcvtimeo = router.rcvtimeo = 2000
        req.connect("inproc://req-rounds")
        for i, (stale, answers) in enumerate(rounds):
            for k in range(stale):
                router.send_multipart([b"r", b"", b"stale %d.%d" % (i, k)], copy=True)
            req.send(b"ask %d" % i)
            assert router.recv_multipart()[2] == b"ask %d" % i
            for k in range(answers):
                router.send_multipart([b"r", b"", b"answer %d.%d" % (i, k)])
            assert req.recv() == b"answer %d.0" % i
    finally:
        req.close(0)
        router.close(0)
        ctx.term()
