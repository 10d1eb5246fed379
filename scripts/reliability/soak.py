#!/usr/bin/env python3
"""Soak purezmq: run one messaging pattern (or all) for N minutes and print, every
``--every`` seconds, messages sent / received / lost, errors, rate, RSS, fds and threads.

    python scripts/reliability/soak.py --minutes 5                  # every pattern, 5 min each
    python scripts/reliability/soak.py --pattern pub-sub --minutes 2 --peer pyzmq
    python scripts/reliability/soak.py --pattern push-pull --churn-every 10   # peer restarts

Both ends run in this process: the purezmq side under test, and the peer (purezmq by
default, or pyzmq with ``--peer pyzmq``).  Each message carries a sequence number and a
checksum; the receiver keeps counters only (no per-message state), so memory measured is
the library's.  ``--churn-every S`` closes the peer socket and makes a new one on the same
endpoint every S seconds (the purezmq side must reconnect).

Exit status 1 if a message arrived corrupted, twice or out of order, if the RSS after the
first interval grew by more than ``--rss-bound`` MB, or if shutdown took too long.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "reliability"))
try:
    import purezmq as zmq
except ImportError:
    sys.path.insert(0, str(ROOT / "src"))
    import purezmq as zmq

import relmsg  # noqa: E402

PATTERNS = ["push-pull", "pub-sub", "req-rep", "dealer-router"]


class Tracker:
    """Counters for a stream of relmsg messages of one or more generations."""

    def __init__(self) -> None:
        self.received = 0
        self.lost = 0
        self.errors = 0
        self.first_error = ""
        self._next: dict[int, int] = {}
        self.lock = threading.Lock()

    def take(self, frames) -> int | None:
        try:
            gen, seq = relmsg.check(frames)
        except ValueError as e:
            self._error(str(e))
            return None
        with self.lock:
            expected = self._next.get(gen, 0)
            if seq < expected:
                self._error(f"gen {gen}: seq {seq} after {expected - 1} (repeat or disorder)")
                return None
            self.lost += seq - expected
            self._next[gen] = seq + 1
            self.received += 1
        return seq

    def _error(self, text: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = text


def library(name: str):
    if name == "pyzmq":
        import zmq as pyzmq

        return pyzmq
    return zmq


class Soak:
    def __init__(self, pattern: str, peer_lib: str, transport: str, size: int) -> None:
        self.pattern = pattern
        self.z = library(peer_lib)
        self.size = size
        self.ctx = zmq.Context()
        self.pctx = self.z.Context()
        self.stop = threading.Event()
        self.tracker = Tracker()
        self.sent = 0
        self.timeouts = 0
        self.restarts = 0
        self.ep = (f"tcp://127.0.0.1:{relmsg.free_port()}" if transport == "tcp"
                   else f"ipc:///tmp/purezmq-soak-{os.getpid()}-{pattern}")
        self.gen = 0
        self.peer_lock = threading.Lock()
        self.peer = None
        self.threads: list[threading.Thread] = []

    # -- the peer (restartable) ------------------------------------------------------------
    def make_peer(self):
        z = self.z
        kind = {"push-pull": z.PULL, "pub-sub": z.PUB, "req-rep": z.REP,
                "dealer-router": z.ROUTER}[self.pattern]
        s = self.pctx.socket(kind)
        s.linger = 0
        s.bind(self.ep)
        return s

    def peer_loop(self) -> None:
        """Runs the peer socket: receive (PULL), publish (PUB) or echo (REP, ROUTER)."""
        z = self.z
        seq = 0
        s = self.make_peer()
        while not self.stop.is_set():
            if self.restart_due():
                s.close(0)
                time.sleep(0.2)
                s = self.make_peer()
                self.restarts += 1
                self.gen += 1
                seq = 0
                continue
            if self.pattern == "pub-sub":
                for _ in range(200):
                    s.send_multipart(relmsg.make(seq, self.gen, self.size))
                    seq += 1
                    self.sent += 1
                time.sleep(0.001)  # ~100-150k msg/s at most; SUB drops past its HWM
                continue
            if not s.poll(100, z.POLLIN):
                continue
            msg = s.recv_multipart()
            if self.pattern == "push-pull":
                self.tracker.take(msg)
            else:
                s.send_multipart(msg)
        s.close(0)

    _next_restart = None
    churn_every = 0.0

    def restart_due(self) -> bool:
        if not self.churn_every:
            return False
        now = time.monotonic()
        if self._next_restart is None:
            self._next_restart = now + self.churn_every
        if now >= self._next_restart:
            self._next_restart = now + self.churn_every
            return True
        return False

    # -- the purezmq side ------------------------------------------------------------------
    def survivor(self, kind):
        s = self.ctx.socket(kind)
        s.linger = 0
        s.reconnect_ivl = 50
        s.reconnect_ivl_max = 500
        return s

    def purezmq_loop(self) -> None:
        p = self.pattern
        if p == "push-pull":
            s = self.survivor(zmq.PUSH)
            s.sndtimeo = 100
            s.connect(self.ep)
            seq = 0
            while not self.stop.is_set():
                try:
                    s.send_multipart(relmsg.make(seq, 0, self.size))
                except zmq.Again:
                    continue
                seq += 1
                self.sent += 1
        elif p == "pub-sub":
            s = self.survivor(zmq.SUB)
            s.setsockopt(zmq.SUBSCRIBE, b"")
            s.connect(self.ep)
            while not self.stop.is_set():
                if s.poll(100):
                    self.tracker.take(s.recv_multipart())
        elif p == "req-rep":  # Lazy Pirate: re-create the REQ after a timeout
            s = self.survivor(zmq.REQ)
            s.connect(self.ep)
            seq = 0
            while not self.stop.is_set():
                msg = relmsg.make(seq, 0, self.size)
                s.send_multipart(msg)
                self.sent += 1
                if s.poll(1000):
                    reply = s.recv_multipart()
                    if reply != msg:
                        self.tracker._error(f"reply to another request at {seq}")
                    self.tracker.received += 1
                else:
                    self.timeouts += 1
                    s.close(0)
                    s = self.survivor(zmq.REQ)
                    s.connect(self.ep)
                seq += 1
        else:  # dealer-router: up to 200 requests in flight
            s = self.survivor(zmq.DEALER)
            s.connect(self.ep)
            seq = 0
            while not self.stop.is_set():
                while seq - self.tracker.received - self.tracker.lost < 200:
                    try:
                        s.send_multipart(relmsg.make(seq, 0, self.size), zmq.DONTWAIT)
                    except zmq.Again:
                        break
                    seq += 1
                    self.sent += 1
                if s.poll(100):
                    while s.poll(0):
                        self.tracker.take(s.recv_multipart())
                elif seq - self.tracker.received - self.tracker.lost >= 200:
                    # The window is stuck: requests died with a restarted peer.
                    self.tracker.lost = seq - self.tracker.received
        s.close(0)

    def run(self, seconds: float, every: float, rss_bound_mb: float) -> bool:
        print(f"== {self.pattern} ({self.ep}, peer {self.z.__name__}, {self.size} B "
              f"messages, {seconds:.0f} s)", flush=True)
        for fn in (self.peer_loop, self.purezmq_loop):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self.threads.append(t)
        start = time.monotonic()
        base_rss = None
        peak_growth = 0.0
        last = (start, 0)
        ok = True
        while True:
            time.sleep(max(0.0, min(every, start + seconds - time.monotonic())))
            now = time.monotonic()
            tr = self.tracker
            rss = relmsg.rss_kb() / 1024
            if base_rss is None:
                base_rss = rss  # after one interval: imports, buffers and pipes are warm
            peak_growth = max(peak_growth, rss - base_rss)
            rate = (tr.received - last[1]) / max(now - last[0], 1e-9)
            last = (now, tr.received)
            print(f"t={now - start:6.0f}s sent={self.sent:>10} recv={tr.received:>10} "
                  f"lost={tr.lost:>8} timeouts={self.timeouts:>4} errors={tr.errors} "
                  f"restarts={self.restarts} rate={rate:>8.0f}/s rss={rss:6.1f}MB "
                  f"fds={relmsg.fd_count()} threads={threading.active_count()}", flush=True)
            if now - start >= seconds:
                break
        self.stop.set()
        for t in self.threads:
            t.join(10)
            if t.is_alive():
                print("FAIL: a worker thread did not stop", flush=True)
                ok = False
        t0 = time.monotonic()
        done = threading.Event()

        def term() -> None:
            self.ctx.term()
            self.pctx.term()
            done.set()

        threading.Thread(target=term, daemon=True).start()
        if not done.wait(10):
            print("FAIL: term() hung", flush=True)
            ok = False
        tr = self.tracker
        print(f"   summary: sent={self.sent} received={tr.received} lost={tr.lost} "
              f"({100 * tr.lost / max(self.sent, 1):.3f}%) errors={tr.errors} "
              f"RSS growth after warm-up {peak_growth:+.1f} MB, term() "
              f"{(time.monotonic() - t0) * 1000:.0f} ms", flush=True)
        if tr.errors:
            print(f"FAIL: {tr.errors} bad messages, first: {tr.first_error}", flush=True)
            ok = False
        if peak_growth > rss_bound_mb:
            print(f"FAIL: RSS grew {peak_growth:.1f} MB > {rss_bound_mb} MB", flush=True)
            ok = False
        return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=1.0, help="per pattern")
    ap.add_argument("--pattern", choices=[*PATTERNS, "all"], default="all")
    ap.add_argument("--peer", choices=["purezmq", "pyzmq"], default="purezmq")
    ap.add_argument("--transport", choices=["tcp", "ipc"], default="tcp")
    ap.add_argument("--size", type=int, default=200, help="payload bytes")
    ap.add_argument("--every", type=float, default=10.0, help="seconds between reports")
    ap.add_argument("--churn-every", type=float, default=0.0,
                    help="restart the peer socket every S seconds (0: never)")
    ap.add_argument("--rss-bound", type=float, default=50.0, help="MB")
    args = ap.parse_args()
    ok = True
    for pattern in PATTERNS if args.pattern == "all" else [args.pattern]:
        soak = Soak(pattern, args.peer, args.transport, args.size)
        soak.churn_every = args.churn_every
        ok = soak.run(args.minutes * 60, args.every, args.rss_bound) and ok
    print("OK" if ok else "FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
