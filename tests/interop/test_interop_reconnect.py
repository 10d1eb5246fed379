"""Reconnection across a peer process that is SIGKILLed and started again on the same address."""

from __future__ import annotations

import time

import pytest
import zmq  # pyzmq
from interop_harness import (
    LocalSide,
    RemoteProcess,
    RemoteSide,
    bind_any,
    recv_or_none,
)

import purezmq

pytestmark = pytest.mark.timeout(60)


def _bind_again(side, addr: str, timeout: float = 10.0):
    """A PULL bound to ``addr`` in a fresh process (retrying while the port is released)."""
    deadline = time.monotonic() + timeout
    while True:
        pull = side.socket(zmq.PULL)
        try:
            pull.bind(addr)
            return pull
        except Exception as e:
            pull.close(linger=0)
            assert getattr(e, "errno", None) == zmq.EADDRINUSE, e
            assert time.monotonic() < deadline, "the address never became free"
            time.sleep(0.1)


@pytest.mark.parametrize(
    "pusher_lib, puller_lib",
    [("purezmq", "pyzmq"), ("pyzmq", "purezmq")],
    ids=["pz_push-zmq_pull_killed", "zmq_push-pz_pull_killed"],
)
def test_push_survives_sigkilled_pull(pusher_lib, puller_lib, transport, ipc_dir):
    procs = [RemoteProcess(puller_lib)]
    local = LocalSide(pusher_lib)
    try:
        pull = RemoteSide(procs[0]).socket(zmq.PULL)
        addr = bind_any(pull, transport, ipc_dir)
        push = local.socket(zmq.PUSH, reconnect_ivl=50)
        push.connect(addr)
        for i in range(10):
            push.send(b"before-%d" % i)
        assert [pull.recv() for _ in range(10)] == [b"before-%d" % i for i in range(10)]

        procs[0].kill()  # no ZMTP goodbye, no FIN from a clean close: a crash
        # While the peer is away the PUSH queues (its peer pipe outlives the connection).
        for i in range(5):
            push.send(b"while-down-%d" % i)

        procs.append(RemoteProcess(puller_lib))
        pull = _bind_again(RemoteSide(procs[1]), addr)
        # Traffic resumes: what was queued while down arrives first (some of it may have
        # been written into the dying connection before the PUSH noticed), then new traffic.
        got = []
        deadline = time.monotonic() + 20
        while True:
            assert time.monotonic() < deadline, f"traffic did not resume: {got}"
            push.send(b"probe")
            msg = recv_or_none(pull, 100)
            if msg is not None:
                got.append(msg[0])
                break
        while (msg := recv_or_none(pull, 200)) is not None:
            got.append(msg[0])
        down = [m for m in got if m.startswith(b"while-down")]
        assert down == sorted(down), got
        assert set(got) <= {b"probe"} | {b"while-down-%d" % i for i in range(5)}
        for i in range(200):
            push.send_multipart([b"after", b"%d" % i])
        assert [pull.recv_multipart() for _ in range(200)] == [
            [b"after", b"%d" % i] for i in range(200)
        ]
        assert recv_or_none(pull, 50) is None
    finally:
        local.cleanup()
        for p in procs:
            p.close()


def test_pyzmq_router_reconnects_to_restarted_purezmq_dealer(transport, ipc_dir):
    """libzmq reconnects to a purezmq peer process that was killed and restarted."""
    procs = [RemoteProcess("purezmq")]
    local = LocalSide("pyzmq")
    try:
        dealer = RemoteSide(procs[0]).socket(zmq.DEALER, routing_id=b"svc")
        addr = bind_any(dealer, transport, ipc_dir)
        router = local.socket(zmq.ROUTER, reconnect_ivl=50, router_mandatory=1)
        router.connect(addr)
        dealer.send(b"hello-1")
        assert router.recv_multipart() == [b"svc", b"hello-1"]
        procs[0].kill()
        procs.append(RemoteProcess("purezmq"))
        side = RemoteSide(procs[1])
        deadline = time.monotonic() + 10
        while True:
            dealer = side.socket(zmq.DEALER, routing_id=b"svc")
            try:
                dealer.bind(addr)
                break
            except Exception as e:
                dealer.close(linger=0)
                assert getattr(e, "errno", None) == zmq.EADDRINUSE, e
                assert time.monotonic() < deadline
                time.sleep(0.1)
        dealer.send(b"hello-2")
        assert router.recv_multipart() == [b"svc", b"hello-2"]
        router.send_multipart([b"svc", b"welcome back"])
        assert dealer.recv() == b"welcome back"
    finally:
        local.cleanup()
        for p in procs:
            p.close()


def test_purezmq_never_imports_pyzmq_in_a_peer():
    proc = RemoteProcess("purezmq")
    try:
        info = proc.rpc("info")
        assert info["module"] == "purezmq"
        assert purezmq.__name__ == "purezmq"
    finally:
        proc.close()


@pytest.mark.parametrize(
    "sub_lib, pub_lib",
    [("purezmq", "pyzmq"), ("pyzmq", "purezmq")],
    ids=["pz_sub-zmq_pub_killed", "zmq_sub-pz_pub_killed"],
)
def test_sub_resubscribes_after_publisher_restart(sub_lib, pub_lib, transport, ipc_dir):
    """After a reconnect the SUB sends its subscriptions again (and only to the new PUB)."""
    procs = [RemoteProcess(pub_lib)]
    local = LocalSide(sub_lib)
    try:
        pub = RemoteSide(procs[0]).socket(zmq.XPUB)
        addr = bind_any(pub, transport, ipc_dir)
        sub = local.socket(zmq.SUB, reconnect_ivl=50)
        sub.connect(addr)
        sub.subscribe(b"a")
        sub.subscribe(b"b")
        assert sorted(pub.recv() for _ in range(2)) == [b"\x01a", b"\x01b"]
        assert recv_or_none(pub, 200) is None, "each subscription is sent once"
        pub.send(b"a-before")
        assert sub.recv() == b"a-before"
        procs[0].kill()
        sub.unsubscribe(b"b")  # while disconnected
        sub.subscribe(b"c")
        procs.append(RemoteProcess(pub_lib))
        side = RemoteSide(procs[1])
        deadline = time.monotonic() + 10
        while True:
            pub = side.socket(zmq.XPUB)
            try:
                pub.bind(addr)
                break
            except Exception as e:
                pub.close(linger=0)
                assert getattr(e, "errno", None) == zmq.EADDRINUSE, e
                assert time.monotonic() < deadline
                time.sleep(0.1)
        # The new publisher learns the SUB's current subscriptions, a and c, not b.  (The
        # SUB re-sends them when it runs its commands, as libzmq does: poke it with EVENTS.)
        subs = set()
        deadline = time.monotonic() + 10
        while not {b"\x01a", b"\x01c"} <= subs:
            assert time.monotonic() < deadline, subs
            sub.getsockopt(zmq.EVENTS)
            while (m := recv_or_none(pub, 50)) is not None:
                subs.add(m[0])
        sub.getsockopt(zmq.EVENTS)
        while (m := recv_or_none(pub, 200)) is not None:
            subs.add(m[0])
        assert b"\x01b" not in subs, subs
        for t in (b"a-after", b"b-after", b"c-after"):
            pub.send(t)
        assert [sub.recv(), sub.recv()] == [b"a-after", b"c-after"]
        assert recv_or_none(sub, 100) is None
    finally:
        local.cleanup()
        for p in procs:
            p.close()
