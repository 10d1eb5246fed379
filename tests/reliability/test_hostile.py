"""Hostile raw-TCP clients against purezmq ROUTER / REP / PULL servers, while well-behaved
pyzmq and purezmq clients keep talking to the same endpoint.

Checked: the good clients keep getting answers throughout (no stall longer than a bound),
no exception reaches the I/O thread (the autouse fixture fails on ERROR records), every
hostile connection is closed by the server (the handshake timeout cuts the silent ones),
and memory and file descriptors come back to where they were.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import hostile
import pytest
import relmsg
import zmq as pyzmq

import purezmq as zmq

pytestmark = pytest.mark.timeout(60)

HANDSHAKE_IVL = 500  # ms
STALL_BOUND = 2.0  # s: the longest a good client may wait for an answer during the attacks


class GoodClient(threading.Thread):
    """A pyzmq or purezmq client doing request/reply (or pushing) in a loop; records the
    longest wait for an answer."""

    def __init__(self, lib, kind: str, ep: str, gen: int) -> None:
        super().__init__(daemon=True)
        self.lib, self.kind, self.ep, self.gen = lib, kind, ep, gen
        self.rid = f"{lib}-{gen}".encode()
        self.done = 0
        self.worst = 0.0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        z = pyzmq if self.lib == "pyzmq" else zmq
        ctx = z.Context()
        s = ctx.socket({"REQ": z.REQ, "DEALER": z.DEALER, "PUSH": z.PUSH}[self.kind])
        s.linger = 0
        s.setsockopt(z.ROUTING_ID, self.rid)
        s.connect(self.ep)
        try:
            seq = 0
            while not self.stop.is_set():
                t0 = time.monotonic()
                msg = relmsg.make(seq, self.gen, size=64)
                if self.kind == "PUSH":
                    s.send_multipart(msg)
                    time.sleep(0.001)
                else:
                    s.send_multipart(msg)
                    if not s.poll(int(STALL_BOUND * 2000)):
                        raise AssertionError(f"{self.lib} {self.kind}: no reply in time")
                    reply = s.recv_multipart()
                    assert reply == msg, "wrong reply"
                self.worst = max(self.worst, time.monotonic() - t0)
                self.done += 1
                seq += 1
        except BaseException as e:
            self.error = e
        finally:
            s.close(0)
            ctx.term()


class Server(threading.Thread):
    """A purezmq ROUTER/REP echo server, or a PULL that checks per-client sequences."""

    def __init__(self, kind: str) -> None:
        super().__init__(daemon=True)
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(getattr(zmq, kind))
        self.kind = kind
        s = self.sock
        s.linger = 0
        s.handshake_ivl = HANDSHAKE_IVL
        s.bind("tcp://127.0.0.1:0")
        self.port = int(s.last_endpoint.decode().rsplit(":", 1)[1])
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.pushed: dict[int, list[int]] = {}

    def run(self) -> None:
        s = self.sock
        try:
            while not self.stop.is_set():
                if not s.poll(100):
                    continue
                msg = s.recv_multipart()
                if self.kind == "PULL":
                    gen, seq = relmsg.check(msg)
                    self.pushed.setdefault(gen, []).append(seq)
                else:
                    s.send_multipart(msg)
        except BaseException as e:
            self.error = e

    def engines(self) -> int:
        from purezmq.io.engine import StreamEngine

        return sum(1 for o in list(self.sock._io_objects) if isinstance(o, StreamEngine))

    def close(self) -> None:
        self.stop.set()
        self.join(5)
        self.sock.close(0)
        self.ctx.term()


def good_clients(kind: str, ep: str) -> list[GoodClient]:
    peer = {"ROUTER": ["DEALER", "REQ"], "REP": ["REQ", "REQ"], "PULL": ["PUSH", "PUSH"]}[kind]
    return [
        GoodClient(lib, ptype, ep, i)
        for i, (lib, ptype) in enumerate((lib, p) for lib in ("pyzmq", "purezmq") for p in peer)
    ]


@pytest.mark.parametrize("kind", ["ROUTER", "REP", "PULL"])
def test_hostile_clients_do_not_hurt_good_ones(kind):
    rng = random.Random(1234)
    fds0, threads0 = relmsg.fd_count(), threading.active_count()
    server = Server(kind)
    server.start()
    ep = f"tcp://127.0.0.1:{server.port}"
    clients = good_clients(kind, ep)
    for c in clients:
        c.start()
    time.sleep(0.3)
    rss0 = relmsg.rss_kb()
    # 1) every attack, many times, 40 at a time; 2) 300 silent connections at once.
    jobs = [(fn, rng.randrange(1 << 30)) for fn in hostile.ATTACKS for _ in range(12)]
    rng.shuffle(jobs)
    started = time.monotonic()
    with ThreadPoolExecutor(40) as pool:
        futures = [
            pool.submit(hostile.run_attack, fn, "127.0.0.1", server.port, kind, seed)
            for fn, seed in jobs
        ]
        problems = [f.result() for f in futures]
    assert not [p for p in problems if p], problems
    silent = []
    for _ in range(300):
        try:
            silent.append(hostile._connect("127.0.0.1", server.port))
        except OSError:
            break
    time.sleep(HANDSHAKE_IVL / 1000 + 0.5)
    still_open = 0
    for s in silent:
        if hostile._until_closed(s, 0.05) is None:
            still_open += 1
        s.close()
    attack_time = time.monotonic() - started
    rss1 = relmsg.rss_kb()
    # The server closed every hostile connection: only the good clients remain.
    deadline = time.monotonic() + 5
    while server.engines() > len(clients) and time.monotonic() < deadline:
        time.sleep(0.05)
    engines_left = server.engines()
    for c in clients:
        c.stop.set()
    for c in clients:
        c.join(10)
    server.close()
    time.sleep(0.2)
    for c in clients:
        assert c.error is None, c.error
        assert c.done > 10, f"{c.lib} {c.kind} made no progress"
        assert c.worst < STALL_BOUND, f"{c.lib} {c.kind} stalled {c.worst:.2f} s"
    assert server.error is None, server.error
    if kind == "PULL":
        for gen, seqs in server.pushed.items():
            assert seqs == list(range(len(seqs))), f"client {gen}: a gap or repeat"
    assert still_open == 0, f"{still_open} silent connections outlived HANDSHAKE_IVL"
    assert engines_left <= len(clients), f"{engines_left} engines left"
    assert rss1 - rss0 < 30 * 1024, f"RSS grew {(rss1 - rss0) / 1024:.1f} MB"
    assert relmsg.fd_count() <= fds0 + 2, (fds0, relmsg.fd_count())
    assert threading.active_count() <= threads0 + 1, threading.enumerate()
    print(f"\nFIGURES hostile[{kind}]: {len(jobs)} attacks + {len(silent)} silent in "
          f"{attack_time:.1f} s; good clients "
          + ", ".join(f"{c.lib}/{c.kind} {c.done} ok worst {c.worst * 1000:.0f} ms"
                      for c in clients)
          + f"; RSS {rss0 // 1024}->{rss1 // 1024} MB")


def test_maxmsgsize_refuses_a_big_frame_at_its_header(ctx):
    """With MAXMSGSIZE the server hangs up on the header, before any body arrives."""
    s = ctx.socket(zmq.PULL)
    s.maxmsgsize = 1000
    s.bind("tcp://127.0.0.1:0")
    port = int(s.last_endpoint.decode().rsplit(":", 1)[1])
    for size in (1001, 2**32, 2**63 - 1, 2**64 - 1):
        with hostile._handshaken("127.0.0.1", port, "PULL", None) as c:
            hostile._send(c, hostile.long_header(size))
            took = hostile._until_closed(c, 3)
            assert took is not None and took < 1, size


def test_huge_claimed_frame_allocates_nothing(ctx):
    """Without MAXMSGSIZE, a frame that claims 2**62 bytes and sends 1 MB holds about 1 MB."""
    s = ctx.socket(zmq.PULL)
    s.bind("tcp://127.0.0.1:0")
    port = int(s.last_endpoint.decode().rsplit(":", 1)[1])
    rss0 = relmsg.rss_kb()
    conns = []
    for _ in range(20):
        c = hostile._handshaken("127.0.0.1", port, "PULL", None)
        hostile._send(c, hostile.long_header(2**62) + b"x" * (1 << 20))
        conns.append(c)
    time.sleep(0.5)
    growth = relmsg.rss_kb() - rss0
    for c in conns:
        c.close()
    assert growth < 60 * 1024, f"{growth / 1024:.1f} MB for 20 MB of claimed-huge frames"
    print(f"\nFIGURES 20 x (2**62-byte header + 1 MB): RSS +{growth / 1024:.1f} MB")


def test_ping_flood_from_a_peer_that_reads_nothing(ctx):
    """Each PING asks for a PONG; a peer that never reads must not make them pile up."""
    s = ctx.socket(zmq.ROUTER)
    s.bind("tcp://127.0.0.1:0")
    port = int(s.last_endpoint.decode().rsplit(":", 1)[1])
    rss0 = relmsg.rss_kb()
    with ThreadPoolExecutor(4) as pool:
        for f in [pool.submit(hostile.ping_flood, "127.0.0.1", port, "ROUTER", None, 3.0)
                  for _ in range(4)]:
            f.result()
    growth = relmsg.rss_kb() - rss0
    assert growth < 20 * 1024, f"RSS grew {growth / 1024:.1f} MB under a PING flood"
    print(f"\nFIGURES PING flood (4 peers x 3 s, reading nothing): RSS +{growth / 1024:.1f} MB")


def _hostile_server(lst, stop: threading.Event, rng: random.Random) -> None:
    """Accept connections and misbehave on each: garbage, a greeting then garbage, a huge
    frame after a valid handshake, silence, an immediate reset."""
    lst.settimeout(0.1)
    conns = []
    while not stop.is_set():
        try:
            c, _ = lst.accept()
        except OSError:
            continue
        conns.append(c)
        kind = rng.randrange(5)
        try:
            if kind == 0:
                c.sendall(rng.randbytes(rng.randint(1, 5000)))
            elif kind == 1:
                c.sendall(hostile.GREETING + rng.randbytes(rng.randint(1, 5000)))
            elif kind == 2:
                c.sendall(hostile.GREETING + hostile.ready("ROUTER")
                          + hostile.long_header(rng.choice([2**63 - 1, 2**64 - 1, 2**40]))
                          + b"x" * 5000)
            elif kind == 3:
                c.sendall(hostile.GREETING)  # then nothing: our handshake timeout
            else:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
        except OSError:
            pass
    for c in conns:
        c.close()


def test_connecting_side_survives_a_hostile_server(ctx):
    """A purezmq DEALER that reconnects for 3 s to a server that only misbehaves keeps its
    queued message, logs no I/O error, and delivers it once a real ROUTER takes the port."""
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", 0))
    lst.listen(64)
    port = lst.getsockname()[1]
    stop = threading.Event()
    t = threading.Thread(target=_hostile_server, args=(lst, stop, random.Random(7)), daemon=True)
    t.start()
    d = ctx.socket(zmq.DEALER)
    d.linger = 0
    d.reconnect_ivl = 10
    d.reconnect_ivl_max = 10
    d.handshake_ivl = 300
    d.setsockopt(zmq.MAXMSGSIZE, 1 << 20)
    mon = d.get_monitor_socket()
    d.connect(f"tcp://127.0.0.1:{port}")
    d.send_multipart(relmsg.make(1))
    rss0 = relmsg.rss_kb()
    connects = 0
    end = time.monotonic() + 3
    while time.monotonic() < end:
        if mon.poll(50):
            event = struct.unpack("<HI", mon.recv_multipart()[0][:6])[0]
            connects += event == zmq.EVENT_CONNECTED
    growth = relmsg.rss_kb() - rss0
    stop.set()
    t.join(5)
    lst.close()
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    router.bind(f"tcp://127.0.0.1:{port}")
    assert router.poll(5000), "the queued message never arrived"
    assert relmsg.check(router.recv_multipart()[1:]) == (0, 1)
    mon.close(0)
    assert connects > 20, connects
    assert growth < 20 * 1024
    print(f"\nFIGURES hostile server: {connects} connections in 3 s, RSS +{growth / 1024:.1f} MB, "
          "queued message delivered afterwards")
