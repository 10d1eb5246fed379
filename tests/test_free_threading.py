"""Races on the cross-thread handshakes, with the interpreter switching threads as often as
it can (``sys.setswitchinterval(1e-6)``).

Each protocol's rule is written in its module's docstring (plumbing/pipe.py,
plumbing/signaler.py, io/reactor.py, io/host.py, core/socket.py).  A lost wake-up shows
here as a wait that runs out while the thing waited for is already there; every loop is
bounded and every wait has a deadline, so a broken protocol fails instead of hanging.
These run on the GIL build (no free-threaded CPython is installed on the CI machine), where
they check that the protocols tolerate every interleaving of bytecodes; the argument that
they also hold without the GIL is the one in the docstrings.
"""

from __future__ import annotations

import select
import sys
import threading
import time
from collections import deque

import pytest

import purezmq as zmq
from purezmq.io.reactor import Reactor
from purezmq.plumbing.pipe import Pipe
from purezmq.plumbing.signaler import Signaler

LOST = 2.0  # s: a wake-up not seen within this is lost (no test waits this long otherwise)


@pytest.fixture(autouse=True)
def tiny_switch_interval():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _run(*targets, timeout: float = 30.0) -> None:
    """Run the targets in threads; re-raise the first error; fail on a hang."""
    errors: list[BaseException] = []

    def wrap(fn):
        def run() -> None:
            try:
                fn()
            except BaseException as e:  # noqa: BLE001  (reported below)
                errors.append(e)

        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a racing thread hung"
    if errors:
        raise errors[0]


class WideDeque(deque):
    """A deque that hands the CPU to another thread inside the windows the protocols must
    tolerate (right after an empty ``popleft`` fails, right after a length is read), so a
    missing re-check loses a wake-up here within a few iterations instead of once a year."""

    def popleft(self):
        try:
            return super().popleft()
        except IndexError:
            time.sleep(1e-5)
            raise

    def __len__(self) -> int:
        n = super().__len__()
        time.sleep(1e-5)
        return n

    def __bool__(self) -> bool:
        return self.__len__() > 0


def _paced(n: int, write_one, consumed, stop: threading.Event) -> None:
    """Write items one at a time, each only after the previous one was consumed: every
    item then meets a reader that has just found the pipe empty (the arming edge).  The
    reader waits for its wake-up longer than this waits for the reader, so a lost
    wake-up fails here."""
    try:
        for i in range(n):
            write_one(i)
            deadline = time.monotonic() + LOST
            while consumed() <= i:
                assert time.monotonic() < deadline, f"lost wake-up: item {i} queued, reader asleep"
                time.sleep(0)
    finally:
        stop.set()


@pytest.mark.timeout(60)
def test_pipe_armed_never_loses_a_wakeup():
    """Writer appends; the reader arms when empty (read) and sleeps until on_readable."""
    n = 1500
    pipe = Pipe(hwm=0)
    pipe.q = WideDeque()
    woken = threading.Event()
    pipe.on_readable = lambda p: woken.set()
    got: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while len(got) < n and not stop.is_set():
            woken.clear()  # before looking: a wake-up from an earlier item must not count
            item = pipe.read()
            if item is None:
                woken.wait(LOST + 1)
                continue
            got.append(item)

    _run(lambda: _paced(n, pipe.write, lambda: len(got), stop), reader)
    assert got == list(range(n))


@pytest.mark.timeout(60)
def test_pipe_rearm_and_write_many_never_lose_a_wakeup():
    """The open-coded reader side (popleft, then rearm when empty) against batches."""
    n = 1500
    pipe = Pipe(hwm=0)
    pipe.q = WideDeque()
    woken = threading.Event()
    pipe.on_readable = lambda p: woken.set()
    count = 0
    stop = threading.Event()

    def reader() -> None:
        nonlocal count
        q = pipe.q
        while count < n and not stop.is_set():
            woken.clear()
            try:
                q.popleft()
            except IndexError:
                if not pipe.rearm():
                    woken.wait(LOST + 1)
                continue
            count += 1

    _run(lambda: _paced(n, lambda i: pipe.write_many([i]), lambda: count, stop), reader)
    assert count == n


@pytest.mark.timeout(60)
def test_pipe_writer_blocked_never_loses_a_wakeup():
    """A writer at the high-water mark sleeps until on_writable; the reader drains."""
    n = 1500
    pipe = Pipe(hwm=4)
    pipe.q = WideDeque()
    writable = threading.Event()
    pipe.on_writable = lambda p: writable.set()
    got = 0
    stop = threading.Event()

    def writer() -> None:
        i = 0
        try:
            while i < n:
                writable.clear()  # before looking, as a real writer must
                if pipe.full():
                    assert writable.wait(LOST), "lost wake-up: writer asleep on a drained pipe"
                    continue
                pipe.write(i)
                i += 1
        except BaseException:
            stop.set()  # the reader gives up too
            raise

    def reader() -> None:
        nonlocal got
        while got < n and not stop.is_set():
            if pipe.read() is None:
                time.sleep(0)  # spin: always ready to run inside the writer's window
                continue
            got += 1

    _run(writer, reader)
    assert got == n


@pytest.mark.timeout(90)
def test_reactor_call_soon_threadsafe_always_wakes_the_loop(monkeypatch):
    """Calls posted while the loop goes to sleep (its call queue widened as above): each
    call runs, i.e. the loop never sleeps with a call queued."""
    import purezmq.io.reactor as reactor_mod

    monkeypatch.setattr(reactor_mod, "deque", WideDeque)
    reactor = Reactor(name="purezmq-test-race")
    monkeypatch.undo()
    try:

        def poster() -> None:
            for _ in range(300):
                done = threading.Event()
                reactor.call_soon_threadsafe(done.set)
                assert done.wait(LOST), "lost wake-up: the I/O thread slept on a queued call"

        _run(poster, poster)
    finally:
        reactor.stop()


@pytest.mark.timeout(60)
def test_signaler_never_loses_a_wake():
    """State change, then wake (other threads); drain, then look at the state (waiter):
    the waiter must never sleep in select with a change it has not seen."""
    sig = Signaler()
    n = 3000
    state = {"made": 0}
    lock = threading.Lock()
    seen = 0

    def waker() -> None:
        for _ in range(n):
            with lock:
                state["made"] += 1
            sig.wake()
            if state["made"] % 64 == 0:
                time.sleep(0)

    def waiter() -> None:
        nonlocal seen
        fd = sig.fileno()
        while seen < 2 * n:
            r, _, _ = select.select([fd], [], [], LOST)
            sig.drain()
            with lock:
                made = state["made"]
            if not r:
                assert made == seen, "lost wake: a change happened, the descriptor stayed quiet"
            seen = made

    try:
        _run(waker, waker, waiter)
    finally:
        sig.close()


@pytest.mark.timeout(60)
def test_signaler_hold_does_not_mute_other_threads():
    """While the waiting thread holds the signaler (its own hosted read), a wake from
    another thread is either written or seen after unhold."""
    sig = Signaler()
    sig.drain()
    flag = {"v": 0}
    for i in range(2000):
        sig.hold()
        t = threading.Thread(target=lambda i=i: (flag.__setitem__("v", i), sig.wake()))
        t.start()
        t.join(5)
        sig.unhold()
        readable = bool(select.select([sig.fileno()], [], [], 0)[0])
        assert readable or flag["v"] == i
        sig.drain()
    sig.close()


@pytest.mark.timeout(120)
def test_hosted_reads_hand_reading_back_to_the_io_thread():
    """Blocking receives (hosted on the caller's thread) alternate with Poller waits
    (which rely on the I/O thread reading): a lost hand-back would leave the poll empty."""
    ctx = zmq.Context()
    try:
        rep = ctx.socket(zmq.REP)
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        req = ctx.socket(zmq.REQ)
        req.connect(f"tcp://127.0.0.1:{port}")
        for s in (rep, req):
            s.rcvtimeo = s.sndtimeo = 5000
        poller = zmq.Poller()
        poller.register(rep, zmq.POLLIN)

        def client() -> None:
            for i in range(200):
                if i % 4 == 0:
                    # A hosted wait longer than HOST_RECHECK: the I/O thread finds the
                    # connection hosted, stops looking, and must be handed reading back.
                    time.sleep(0.01)
                req.send(b"%d" % i)
                assert req.recv() == b"ok"

        def server() -> None:
            for i in range(200):
                if i % 2:
                    assert dict(poller.poll(LOST * 1000)).get(rep) == zmq.POLLIN, (
                        "the I/O thread never took reading back after a hosted wait"
                    )
                    msg = rep.recv(zmq.NOBLOCK)
                else:
                    msg = rep.recv()  # hosted
                assert msg == b"%d" % i
                rep.send(b"ok")

        _run(client, server, timeout=100)
    finally:
        ctx.destroy(linger=0)


@pytest.mark.timeout(120)
def test_io_objects_set_under_connect_close_churn():
    """Sockets connect and close while their connections come and go on the I/O thread;
    every close is reaped (term returns) with the set of I/O objects shared by both."""
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")

    def churn() -> None:
        for _ in range(60):
            push = ctx.socket(zmq.PUSH)
            push.linger = 0
            push.connect(f"tcp://127.0.0.1:{port}")
            push.send(b"x")
            push.close()

    _run(churn, churn, timeout=100)
    pull.close(linger=0)
    done = threading.Event()
    threading.Thread(target=lambda: (ctx.term(), done.set()), daemon=True).start()
    assert done.wait(20), "Context.term() hung: a closed socket was never reaped"
