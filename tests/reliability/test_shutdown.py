"""``term()``, ``LINGER`` and Ctrl-C: shutdown always finishes, and on time.

Each ``term()`` runs in a helper thread joined with a deadline, so a hang fails the test
instead of stalling the suite.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import relmsg
from procs import PeerProcess, child_env

import purezmq as zmq

pytestmark = pytest.mark.timeout(30)


def term_within(ctx, seconds: float) -> float:
    """Run ``ctx.term()`` in another thread; fail if it takes longer than ``seconds``."""
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            ctx.term()
        except BaseException as e:
            errors.append(e)
        done.set()

    start = time.monotonic()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert done.wait(seconds), f"term() still running after {seconds} s"
    assert not errors, errors
    return time.monotonic() - start


class Blocked(threading.Thread):
    """Runs ``fn(sock)`` in a thread that owns ``sock``; closes it after ``fn`` raises."""

    def __init__(self, sock, fn) -> None:
        super().__init__(daemon=True)
        self.sock, self.fn = sock, fn
        self.raised: BaseException | None = None
        self.started_at = 0.0

    def run(self) -> None:
        self.started_at = time.monotonic()
        try:
            self.fn(self.sock)
        except BaseException as e:
            self.raised = e
        finally:
            self.sock.close()


def _recv(s):
    s.recv()


def _send_forever(s):
    while True:
        s.send(b"x" * 100)


def _poll(s):
    p = zmq.Poller()
    p.register(s, zmq.POLLIN)
    p.poll()


def _poll_mixed(s):
    a, b = socket.socketpair()
    try:
        p = zmq.Poller()
        p.register(s, zmq.POLLIN)
        p.register(a, zmq.POLLIN)
        p.poll()
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize(
    "kind,fn",
    [
        (zmq.PULL, _recv),
        (zmq.REP, _recv),
        (zmq.SUB, _recv),
        (zmq.PUSH, _send_forever),  # blocks once the HWM is reached (no peer)
        (zmq.DEALER, _poll),
        (zmq.DEALER, _poll_mixed),
    ],
    ids=["recv-pull", "recv-rep", "recv-sub", "send-push-hwm", "poll", "poll-with-fd"],
)
def test_term_wakes_blocked_thread(kind, fn):
    ctx = zmq.Context()
    s = ctx.socket(kind)
    s.sndhwm = 10
    s.linger = 0  # queued messages and LINGER -1 would (rightly) keep term() waiting
    s.connect(f"tcp://127.0.0.1:{relmsg.free_port()}")  # nobody there: reconnecting
    t = Blocked(s, fn)
    t.start()
    time.sleep(0.2)
    took = term_within(ctx, 5)
    t.join(5)
    assert isinstance(t.raised, zmq.ContextTerminated), repr(t.raised)
    assert took < 2


def test_term_from_a_thread_that_owns_no_socket():
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://x")
    b.connect("inproc://x")
    threads = [Blocked(a, _recv), Blocked(b, _recv)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    result: list[float] = []
    helper = threading.Thread(target=lambda: result.append(term_within(ctx, 5)))
    helper.start()
    helper.join(6)
    assert result and result[0] < 2
    for t in threads:
        t.join(5)
        assert isinstance(t.raised, zmq.ContextTerminated)


def test_operations_after_term_raise():
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    done = threading.Thread(target=ctx.term, daemon=True)
    done.start()
    time.sleep(0.1)
    with pytest.raises(zmq.ContextTerminated):
        s.send(b"x")
    s.close()
    done.join(5)
    assert not done.is_alive()
    with pytest.raises(zmq.ZMQError):
        ctx.socket(zmq.PUSH)


@pytest.mark.parametrize("linger", [0, 300, -1])
@pytest.mark.parametrize("peer", ["none", "live"])
def test_term_with_pending_messages(linger, peer):
    """Messages queued at close: linger 0 drops them at once, a positive linger waits at most
    that long, -1 waits for a live peer to take them all (and with no peer it would wait for
    ever, as in libzmq, so that case is not run)."""
    if linger == -1 and peer == "none":
        pytest.skip("LINGER -1 with no peer waits for ever by design")
    ep = f"tcp://127.0.0.1:{relmsg.free_port()}"
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 0
    pull_ctx = zmq.Context()
    pull = None
    if peer == "live":
        pull = pull_ctx.socket(zmq.PULL)
        pull.bind(ep)
    push.connect(ep)
    n = 20000
    for i in range(n):
        push.send_multipart(relmsg.make(i, size=100))
    push.close(linger=linger)
    got = []
    if pull is not None:
        stop = threading.Event()

        def drain() -> None:
            pull.rcvtimeo = 100
            while not stop.is_set():
                try:
                    got.append(relmsg.check(pull.recv_multipart())[1])
                except zmq.Again:
                    pass

        t = threading.Thread(target=drain, daemon=True)
        t.start()
    bound = {0: 0.5, 300: 0.3 + 1.0, -1: 10}[linger]
    took = term_within(ctx, bound)
    if pull is not None:
        # Let the peer drain what reached it, then see what it got.
        deadline = time.monotonic() + 5
        last = -1
        while len(got) != last and len(got) < n and time.monotonic() < deadline:
            last = len(got)
            time.sleep(0.3)
        if linger == -1 or took < linger / 1000:
            # Nothing expired: everything queued went out.
            assert got == list(range(n)), f"{len(got)} of {n} delivered"
        stop.set()
        t.join(5)
        assert got == list(range(len(got)))
        pull.close(0)
    pull_ctx.term()
    print(f"\nFIGURES term linger={linger} peer={peer}: {took * 1000:.0f} ms, "
          f"delivered {len(got)}/{n}")


@pytest.mark.parametrize("lib", ["pyzmq", "purezmq"])
def test_pending_messages_delivered_within_linger(lib):
    """Close a PUSH with queued messages before its peer exists; the peer starts during
    LINGER and gets every message; term() returns once they are out, before LINGER ends."""
    ep = f"tcp://127.0.0.1:{relmsg.free_port()}"
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.reconnect_ivl = 50
    push.reconnect_ivl_max = 100
    push.connect(ep)
    n = 500
    for i in range(n):
        push.send_multipart(relmsg.make(i))
    push.close(linger=4000)
    closed_at = time.monotonic()
    time.sleep(0.3)
    with PeerProcess(lib, "pull", "bind", ep) as peer:
        peer.wait_ready()
        took = term_within(ctx, 4.5)
        peer.wait_count(n, timeout=5)
        assert [s for _g, s, _t in peer.received] == list(range(n))
    assert took < 3.5, "term() waited for the whole LINGER though everything was sent"
    print(f"\nFIGURES linger delivery[{lib}]: {n}/{n} delivered, term() "
          f"{(time.monotonic() - closed_at) * 1000:.0f} ms after close")


def test_destroy_from_another_thread_with_sockets_in_every_state():
    ctx = zmq.Context()
    ep = f"tcp://127.0.0.1:{relmsg.free_port()}"
    router = ctx.socket(zmq.ROUTER)
    router.bind(ep)
    blocked = []
    plan = ((zmq.DEALER, _recv), (zmq.PUSH, _send_forever), (zmq.REQ, _recv))
    for kind, _fn in plan:
        s = ctx.socket(kind)
        s.sndhwm = 5
        s.connect(ep if kind != zmq.PUSH else f"tcp://127.0.0.1:{relmsg.free_port()}")
        if kind == zmq.REQ:
            s.send(b"hello")  # the ROUTER never answers
        blocked.append(s)
    idle = ctx.socket(zmq.PUB)
    idle.bind("inproc://idle")
    threads = [Blocked(s, fn) for s, (_k, fn) in zip(blocked, plan)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    done = threading.Event()

    def destroy() -> None:
        ctx.destroy(linger=0)
        done.set()

    threading.Thread(target=destroy, daemon=True).start()
    assert done.wait(5), "destroy() hung"
    for t in threads:
        t.join(5)
        assert isinstance(t.raised, (zmq.ContextTerminated, zmq.ZMQError)), t.raised


SIGINT_CHILD = textwrap.dedent(
    """
    import os, sys, time
    import purezmq as zmq
    ctx = zmq.Context()
    s = ctx.socket(zmq.{kind})
    s.sndhwm = 1
    s.connect("tcp://127.0.0.1:{port}")
    try:
        print("BLOCKING", flush=True)
        {op}
    except KeyboardInterrupt:
        print("KBI", time.monotonic(), flush=True)
        s.close(0)
        ctx.term()
        sys.exit(7)
    """
)


@pytest.mark.parametrize(
    "kind,op",
    [
        ("PULL", "s.recv()"),
        ("PUSH", "while True: s.send(b'x')"),
        ("DEALER", "p = zmq.Poller(); p.register(s, zmq.POLLIN); p.poll()"),
    ],
    ids=["recv", "send-at-hwm", "poll"],
)
def test_sigint_interrupts_a_blocking_call(kind, op):
    code = SIGINT_CHILD.format(kind=kind, port=relmsg.free_port(), op=op)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=child_env(),
    )
    try:
        assert proc.stdout.readline().strip() == b"BLOCKING"
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline().split()
        assert line and line[0] == b"KBI", proc.stderr.read()[-2000:]
        latency = float(line[1]) - sent
        assert proc.wait(5) == 7
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert latency < 1.0
    print(f"\nFIGURES SIGINT[{kind}] KeyboardInterrupt after {latency * 1000:.0f} ms")


@pytest.mark.parametrize("mode", ["hosted", "nohost"])
def test_sigint_storm_never_stalls_or_corrupts(mode):
    """SIGINT every 2 ms for 3 s at a busy receiver that catches KeyboardInterrupt and goes
    on.  A message may be lost (taken when the interrupt hit), a connection may be dropped
    (a read cut short), but nothing arrives corrupted or twice and the socket keeps going."""
    child = Path(__file__).resolve().parent / "sigstorm_child.py"
    proc = subprocess.Popen(
        [sys.executable, str(child), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=child_env(), text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "READY"
        end = time.monotonic() + 3
        while time.monotonic() < end and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            time.sleep(0.002)
        proc.stdin.write("STOP\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    line = [x for x in out.splitlines() if x.startswith("RESULT ")]
    assert line, err[-3000:]
    res = json.loads(line[0][7:])
    assert res["bad"] == 0, res
    assert not res["stalled"], res
    assert res["interrupts"] > 50, res
    print(f"\nFIGURES SIGINT storm [{mode}]: {res}")
