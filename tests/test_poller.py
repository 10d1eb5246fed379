"""Poller, select and the FD / EVENTS options: prompt wake-ups, timeouts, no CPU when idle."""

from __future__ import annotations

import asyncio
import os
import select as _select
import socket
import threading
import time

import pytest

import purezmq as zmq

pytestmark = pytest.mark.timeout(60)

WAKE_LIMIT = 0.05  # "within a few ms", with head-room for a loaded CI machine
IDLE_CPU_LIMIT = 0.05  # process CPU seconds allowed over a 0.5 s idle poll


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


@pytest.fixture
def pull_push(ctx):
    pull = ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push = ctx.socket(zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{port}")
    push.send(b"warm-up")
    assert pull.recv() == b"warm-up"
    return pull, push


def _later(delay: float, fn) -> tuple[threading.Thread, list]:
    """Run ``fn`` in a thread after ``delay``; the list gets the time it ran."""
    when: list[float] = []

    def run() -> None:
        time.sleep(delay)
        when.append(time.monotonic())
        fn()

    t = threading.Thread(target=run)
    t.start()
    return t, when


# -- waking up -------------------------------------------------------------------------------


def test_wakes_promptly_for_a_purezmq_socket(pull_push):
    pull, push = pull_push
    poller = zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    t, when = _later(0.1, lambda: push.send(b"x"))
    events = dict(poller.poll(5000))
    woke = time.monotonic()
    t.join()
    assert events == {pull: zmq.POLLIN}
    assert woke - when[0] < WAKE_LIMIT
    assert pull.recv() == b"x"


def test_wakes_promptly_for_inproc(ctx):
    a = ctx.socket(zmq.PAIR)
    a.bind("inproc://poll-wake")
    b = ctx.socket(zmq.PAIR)
    b.connect("inproc://poll-wake")
    poller = zmq.Poller()
    poller.register(a, zmq.POLLIN)
    t, when = _later(0.1, lambda: b.send(b"x"))
    events = poller.poll(5000)
    woke = time.monotonic()
    t.join()
    assert events == [(a, zmq.POLLIN)]
    assert woke - when[0] < WAKE_LIMIT


def test_wakes_promptly_for_a_python_socket():
    r, w = socket.socketpair()
    try:
        poller = zmq.Poller()
        poller.register(r, zmq.POLLIN)
        t, when = _later(0.1, lambda: w.send(b"x"))
        events = poller.poll(5000)
        woke = time.monotonic()
        t.join()
        assert events == [(r, zmq.POLLIN)]
        assert woke - when[0] < WAKE_LIMIT
    finally:
        r.close()
        w.close()


def test_wakes_promptly_for_a_raw_fd():
    r, w = os.pipe()
    try:
        poller = zmq.Poller()
        poller.register(r, zmq.POLLIN)
        t, when = _later(0.1, lambda: os.write(w, b"x"))
        events = poller.poll(5000)
        woke = time.monotonic()
        t.join()
        assert events == [(r, zmq.POLLIN)]
        assert woke - when[0] < WAKE_LIMIT
    finally:
        os.close(r)
        os.close(w)


def test_mixed_poller_wakes_for_either(pull_push):
    pull, push = pull_push
    r, w = socket.socketpair()
    try:
        poller = zmq.Poller()
        poller.register(pull, zmq.POLLIN)
        poller.register(r.fileno(), zmq.POLLIN)
        # the purezmq socket wakes a poller that also waits on a file descriptor
        t, when = _later(0.1, lambda: push.send(b"x"))
        events = dict(poller.poll(5000))
        woke = time.monotonic()
        t.join()
        assert events == {pull: zmq.POLLIN}
        assert woke - when[0] < WAKE_LIMIT
        assert pull.recv() == b"x"
        # and the descriptor wakes it too
        t, when = _later(0.1, lambda: w.send(b"y"))
        events = dict(poller.poll(5000))
        woke = time.monotonic()
        t.join()
        assert events == {r.fileno(): zmq.POLLIN}
        assert woke - when[0] < WAKE_LIMIT
    finally:
        r.close()
        w.close()


def test_ready_before_poll_returns_at_once(pull_push):
    pull, push = pull_push
    push.send(b"x")
    time.sleep(0.05)
    poller = zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    t0 = time.monotonic()
    assert poller.poll(5000) == [(pull, zmq.POLLIN)]
    assert time.monotonic() - t0 < WAKE_LIMIT


# -- timeouts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zmq", "fd", "mixed"])
def test_timeout_is_honoured(ctx, kind):
    sock = ctx.socket(zmq.PULL)
    sock.bind("inproc://poll-timeout")
    r, w = os.pipe()
    try:
        poller = zmq.Poller()
        if kind in ("zmq", "mixed"):
            poller.register(sock, zmq.POLLIN)
        if kind in ("fd", "mixed"):
            poller.register(r, zmq.POLLIN)
        t0 = time.monotonic()
        assert poller.poll(150) == []
        elapsed = time.monotonic() - t0
        assert 0.14 <= elapsed < 0.6
        t0 = time.monotonic()
        assert poller.poll(0) == []
        assert time.monotonic() - t0 < 0.05
    finally:
        os.close(r)
        os.close(w)


def test_socket_poll_method_timeout(ctx):
    sock = ctx.socket(zmq.PULL)
    sock.bind("inproc://poll-method")
    t0 = time.monotonic()
    assert sock.poll(100) == 0
    assert 0.09 <= time.monotonic() - t0 < 0.6


# -- no CPU while idle ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zmq", "fd", "mixed"])
def test_idle_poll_costs_no_cpu(pull_push, kind):
    pull, _push = pull_push
    r, w = os.pipe()
    try:
        poller = zmq.Poller()
        if kind in ("zmq", "mixed"):
            poller.register(pull, zmq.POLLIN)
        if kind in ("fd", "mixed"):
            poller.register(r, zmq.POLLIN)
        cpu0 = time.process_time()
        t0 = time.monotonic()
        assert poller.poll(500) == []
        cpu = time.process_time() - cpu0
        assert time.monotonic() - t0 >= 0.49
        assert cpu < IDLE_CPU_LIMIT, f"idle poll used {cpu:.3f} s of CPU"
    finally:
        os.close(r)
        os.close(w)


def test_idle_blocking_recv_costs_no_cpu(pull_push):
    pull, _push = pull_push
    pull.rcvtimeo = 500
    cpu0 = time.process_time()
    with pytest.raises(zmq.Again):
        pull.recv()
    assert time.process_time() - cpu0 < IDLE_CPU_LIMIT


# -- POLLOUT -------------------------------------------------------------------------------------


def test_pollout(ctx):
    push = ctx.socket(zmq.PUSH)
    push.sndhwm = 5
    poller = zmq.Poller()
    poller.register(push, zmq.POLLOUT)
    assert poller.poll(0) == []  # no peer: a PUSH cannot send
    pull = ctx.socket(zmq.PULL)
    pull.rcvhwm = 5
    pull.bind("inproc://pollout")
    push.connect("inproc://pollout")
    assert poller.poll(1000) == [(push, zmq.POLLOUT)]
    sent = 0
    while True:
        try:
            push.send(b"m", zmq.DONTWAIT)
        except zmq.Again:
            break
        sent += 1
        assert sent < 10000, "the high-water mark was not applied"
    assert poller.poll(0) == []  # full
    # the reader drains: the poller wakes for POLLOUT
    t, when = _later(0.1, lambda: [pull.recv() for _ in range(sent)])
    events = poller.poll(5000)
    woke = time.monotonic()
    t.join()
    assert events == [(push, zmq.POLLOUT)]
    assert woke - when[0] < 0.5


def test_pollin_pollout_together(pull_push, ctx):
    dealer = ctx.socket(zmq.DEALER)
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer.connect(f"tcp://127.0.0.1:{port}")
    poller = zmq.Poller()
    poller.register(dealer)  # POLLIN | POLLOUT by default
    assert dealer in poller
    assert dict(poller.poll(1000)) == {dealer: zmq.POLLOUT}
    dealer.send(b"hello")
    rid, msg = router.recv_multipart()
    router.send_multipart([rid, b"back"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if dict(poller.poll(100)).get(dealer) == zmq.POLLIN | zmq.POLLOUT:
            break
    else:
        pytest.fail("no POLLIN|POLLOUT")
    poller.modify(dealer, zmq.POLLIN)
    assert dict(poller.poll(0)) == {dealer: zmq.POLLIN}
    poller.unregister(dealer)
    assert dealer not in poller
    assert poller.poll(0) == []


# -- select ----------------------------------------------------------------------------------------


def test_select(pull_push):
    pull, push = pull_push
    r, w = socket.socketpair()
    try:
        assert zmq.select([pull, r], [push], [], 0) == ([], [push], [])
        t0 = time.monotonic()
        assert zmq.select([pull, r], [], [], 0.1) == ([], [], [])
        assert time.monotonic() - t0 >= 0.09
        push.send(b"x")
        w.send(b"y")
        deadline = time.monotonic() + 5
        rlist: list = []
        while len(rlist) < 2 and time.monotonic() < deadline:
            rlist, _, _ = zmq.select([pull, r], [], [], 1)
        assert rlist == [pull, r]
        t, when = _later(0.1, lambda: push.send(b"z"))
        assert pull.recv() == b"x"
        rlist, wlist, xlist = zmq.select([pull], [], [], 5)
        t.join()
        assert rlist == [pull]
    finally:
        r.close()
        w.close()


# -- FD and EVENTS -------------------------------------------------------------------------------


def _readable(fd: int, timeout: float) -> bool:
    return bool(_select.select([fd], [], [], timeout)[0])


def test_fd_is_an_edge_triggered_signal(pull_push):
    pull, push = pull_push
    fd = pull.getsockopt(zmq.FD)
    assert isinstance(fd, int) and fd >= 0
    assert pull.fd == fd == pull.fileno()
    # settle: read EVENTS until the descriptor is quiet
    pull.getsockopt(zmq.EVENTS)
    assert not _readable(fd, 0.05)
    assert pull.getsockopt(zmq.EVENTS) == 0
    # a message makes the descriptor readable, promptly
    t, when = _later(0.1, lambda: push.send(b"one"))
    assert _readable(fd, 5)
    woke = time.monotonic()
    t.join()
    assert woke - when[0] < WAKE_LIMIT
    assert pull.getsockopt(zmq.EVENTS) & zmq.POLLIN
    # reading EVENTS reset the edge; the message stays until received
    assert not _readable(fd, 0.05)
    assert pull.getsockopt(zmq.EVENTS) & zmq.POLLIN
    assert pull.recv() == b"one"
    assert pull.getsockopt(zmq.EVENTS) == 0
    assert not _readable(fd, 0.05)
    push.send(b"two")
    assert _readable(fd, 5)
    assert pull.events & zmq.POLLIN
    assert pull.recv() == b"two"


def test_fd_signals_pollout(ctx):
    push = ctx.socket(zmq.PUSH)
    fd = push.getsockopt(zmq.FD)
    push.getsockopt(zmq.EVENTS)
    assert push.getsockopt(zmq.EVENTS) == 0
    pull = ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push.connect(f"tcp://127.0.0.1:{port}")
    deadline = time.monotonic() + 5
    while not push.getsockopt(zmq.EVENTS) & zmq.POLLOUT:
        assert _readable(fd, max(0.0, deadline - time.monotonic())), "no POLLOUT signal"


def test_fd_with_an_asyncio_event_loop(pull_push):
    """An external event loop drives a socket with FD + EVENTS, as pyzmq's integrations do."""
    pull, push = pull_push
    n = 200

    async def consume() -> list[bytes]:
        loop = asyncio.get_running_loop()
        got: list[bytes] = []
        done = loop.create_future()

        def on_readable() -> None:
            while pull.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                got.append(pull.recv(zmq.DONTWAIT))
                if len(got) == n and not done.done():
                    done.set_result(None)

        loop.add_reader(pull.getsockopt(zmq.FD), on_readable)
        on_readable()  # edge-triggered: look once after registering
        try:
            sender = threading.Thread(
                target=lambda: [push.send(b"%d" % i) or time.sleep(0.001) for i in range(n)]
            )
            sender.start()
            await asyncio.wait_for(done, 10)
            sender.join()
        finally:
            loop.remove_reader(pull.getsockopt(zmq.FD))
        return got

    got = asyncio.run(consume())
    assert got == [b"%d" % i for i in range(n)]


def test_fd_idle_costs_no_cpu(pull_push):
    pull, _push = pull_push
    fd = pull.getsockopt(zmq.FD)
    pull.getsockopt(zmq.EVENTS)
    cpu0 = time.process_time()
    assert not _readable(fd, 0.5)
    assert time.process_time() - cpu0 < IDLE_CPU_LIMIT


def test_fd_signals_context_termination():
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.bind("inproc://fd-term")
    fd = sock.getsockopt(zmq.FD)
    sock.getsockopt(zmq.EVENTS)
    assert not _readable(fd, 0.02)
    t = threading.Thread(target=ctx.term)
    t.start()
    try:
        assert _readable(fd, 5)
    finally:
        sock.close()
        t.join(5)
    assert not t.is_alive()


def test_fd_closed_with_the_socket(ctx):
    sock = ctx.socket(zmq.PULL)
    fd = sock.getsockopt(zmq.FD)
    os.fstat(fd)
    signaler = sock._signaler
    sock.close()
    # (not os.fstat(fd): another thread may already have been given the same number)
    assert signaler.closed and signaler.fileno() == -1
    with pytest.raises(zmq.ZMQError):
        sock.getsockopt(zmq.FD)


def test_fd_is_read_only(ctx):
    sock = ctx.socket(zmq.PULL)
    with pytest.raises(zmq.ZMQError):
        sock.setsockopt(zmq.FD, 3)
