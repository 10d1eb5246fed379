"""Every socket pattern between purezmq and libzmq (pyzmq), across processes, both ways.

Each test runs in four placements (see ``conftest.PAIRS``): purezmq binds in this process
and pyzmq connects from a peer process, and so on, over tcp and ipc.  Payloads of 0, 1,
255, 256 (the short/long frame boundary), 64 KiB and 1 MiB bytes, single and multipart,
are checked byte for byte and in order.
"""

from __future__ import annotations

import time

import pytest
import zmq  # pyzmq: only for constants here (they are libzmq's numbers, as purezmq's are)
from interop_harness import (
    SIZES,
    bind_any,
    payload,
    raises_errno,
    recv_or_none,
    sync_pubsub,
)

pytestmark = pytest.mark.timeout(60)


def check_payloads(tx, rx) -> None:
    """Single-frame messages of every size, then multipart ones; content and order."""
    for i, size in enumerate(SIZES):
        tx.send(payload(size, i))
    for i, size in enumerate(SIZES):
        assert rx.recv() == payload(size, i), f"single frame of {size} bytes"
    frames = [payload(size, 100 + i) for i, size in enumerate(SIZES)]
    tx.send_multipart(frames)
    tx.send_multipart([b"", b"", b"x", b""])
    tx.send_multipart(list(reversed(frames)))
    assert rx.recv_multipart() == frames
    assert rx.recv_multipart() == [b"", b"", b"x", b""]
    assert rx.recv_multipart() == list(reversed(frames))


def check_order(tx, rx, n: int = 500) -> None:
    for i in range(n):
        tx.send_multipart([b"seq", b"%d" % i])
    got = [rx.recv_multipart() for _ in range(n)]
    assert got == [[b"seq", b"%d" % i] for i in range(n)]


# -- PAIR ------------------------------------------------------------------------------------
def test_pair(sides, transport, ipc_dir):
    bind_side, connect_side = sides
    a = bind_side.socket(zmq.PAIR)
    ep = bind_any(a, transport, ipc_dir)
    b = connect_side.socket(zmq.PAIR)
    b.connect(ep)
    check_payloads(b, a)  # the connecter may send first: its peer exists at connect()
    check_payloads(a, b)
    check_order(a, b, 200)
    check_order(b, a, 200)


# -- REQ / REP -------------------------------------------------------------------------------
@pytest.mark.parametrize("req_binds", [False, True], ids=["rep_binds", "req_binds"])
def test_req_rep(sides, transport, ipc_dir, req_binds):
    bind_side, connect_side = sides
    if req_binds:
        req = bind_side.socket(zmq.REQ)
        ep = bind_any(req, transport, ipc_dir)
        rep = connect_side.socket(zmq.REP)
        rep.connect(ep)
    else:
        rep = bind_side.socket(zmq.REP)
        ep = bind_any(rep, transport, ipc_dir)
        req = connect_side.socket(zmq.REQ)
        req.connect(ep)
    for i, size in enumerate(SIZES):
        body = payload(size, i)
        req.send(body)
        assert rep.recv() == body
        rep.send(body[::-1] + b"!")
        assert req.recv() == body[::-1] + b"!"
    frames = [payload(size, 50 + i) for i, size in enumerate(SIZES)]
    req.send_multipart(frames)
    assert rep.recv_multipart() == frames  # the envelope is stripped
    rep.send_multipart([b"", *frames, b""])
    assert req.recv_multipart() == [b"", *frames, b""]
    for i in range(50):
        req.send(b"%d" % i)
        assert rep.recv() == b"%d" % i
        rep.send(b"r%d" % i)
        assert req.recv() == b"r%d" % i


def test_req_relaxed_correlate_against_rep(sides, transport, ipc_dir):
    """REQ_RELAXED + REQ_CORRELATE: the request id frame travels through the other REP."""
    bind_side, connect_side = sides
    rep = bind_side.socket(zmq.REP)
    ep = bind_any(rep, transport, ipc_dir)
    req = connect_side.socket(zmq.REQ, req_relaxed=1, req_correlate=1)
    req.connect(ep)
    req.send(b"first")
    assert rep.recv() == b"first"
    req.send(b"second")  # gives up on "first"
    rep.send(b"reply to first")  # arrives, but carries the old request id: dropped
    assert rep.recv() == b"second"
    rep.send(b"reply to second")
    assert req.recv() == b"reply to second"
    assert recv_or_none(req, 100) is None


def test_req_rep_two_clients_of_other_library(sides, transport, ipc_dir):
    """One REP serves two REQs (one of each library) and routes every reply right."""
    bind_side, connect_side = sides
    rep = bind_side.socket(zmq.REP)
    ep = bind_any(rep, transport, ipc_dir)
    reqs = [connect_side.socket(zmq.REQ), bind_side.socket(zmq.REQ)]
    for r in reqs:
        r.connect(ep)
    for rnd in range(10):
        for i, r in enumerate(reqs):
            r.send_multipart([b"client%d" % i, b"%d" % rnd])
        for _ in reqs:
            who, n = rep.recv_multipart()
            rep.send_multipart([who, n, b"ok"])
        for i, r in enumerate(reqs):
            assert r.recv_multipart() == [b"client%d" % i, b"%d" % rnd, b"ok"]


# -- PUSH / PULL -----------------------------------------------------------------------------
@pytest.mark.parametrize("push_binds", [False, True], ids=["pull_binds", "push_binds"])
def test_push_pull(sides, transport, ipc_dir, push_binds):
    bind_side, connect_side = sides
    if push_binds:
        push = bind_side.socket(zmq.PUSH)
        ep = bind_any(push, transport, ipc_dir)
        pull = connect_side.socket(zmq.PULL)
        pull.connect(ep)
    else:
        pull = bind_side.socket(zmq.PULL)
        ep = bind_any(pull, transport, ipc_dir)
        push = connect_side.socket(zmq.PUSH)
        push.connect(ep)
    check_payloads(push, pull)
    check_order(push, pull, 1000)


@pytest.mark.parametrize("push_binds", [False, True], ids=["pull_binds", "push_binds"])
def test_push_pull_backpressure(sides, transport, ipc_dir, push_binds):
    """Small high-water marks both sides: the sender gets EAGAIN, pauses, and nothing is lost.

    (Kernel buffers are left alone: tiny SO_RCVBUF on loopback makes TCP itself stall on
    zero-window probes, with any library.)
    """
    bind_side, connect_side = sides
    opts = {"sndhwm": 5, "rcvhwm": 5}
    if push_binds:
        push = bind_side.socket(zmq.PUSH, **opts)
        ep = bind_any(push, transport, ipc_dir)
        pull = connect_side.socket(zmq.PULL, **opts)
        pull.connect(ep)
    else:
        pull = bind_side.socket(zmq.PULL, **opts)
        ep = bind_any(pull, transport, ipc_dir)
        push = connect_side.socket(zmq.PUSH, **opts)
        push.connect(ep)
    n, body = 400, payload(65536)  # 25 MB: more than loopback socket buffers hold
    got, again = [], 0
    i = 0
    while i < n:
        try:
            push.send_multipart([b"%d" % i, body], zmq.NOBLOCK)
            i += 1
        except Exception as e:
            assert getattr(e, "errno", None) == zmq.EAGAIN, e
            again += 1
            for _ in range(20):
                msg = recv_or_none(pull, 5)
                if msg is None:
                    break
                got.append(msg)
    while len(got) < n:
        got.append(pull.recv_multipart())
    assert again > 0, "the sender had to wait for the receiver"
    assert [int(m[0]) for m in got] == list(range(n))
    assert all(m[1] == body for m in got)


def test_push_round_robin_to_both_libraries(sides, transport, ipc_dir):
    """A PUSH spreads messages over a PULL of each library; nothing is lost or duplicated."""
    bind_side, connect_side = sides
    push = bind_side.socket(zmq.PUSH)
    ep = bind_any(push, transport, ipc_dir)
    pulls = [connect_side.socket(zmq.PULL), bind_side.socket(zmq.PULL)]
    for p in pulls:
        p.connect(ep)
    # Wait until both PULLs are connected: round robin only spans connected peers.
    deadline = time.monotonic() + 10
    seen = [0, 0]
    k = 0
    while not all(seen):
        assert time.monotonic() < deadline
        push.send(b"warmup")
        k += 1
        for i, p in enumerate(pulls):
            while recv_or_none(p, 20) is not None:
                seen[i] += 1
    time.sleep(0.1)
    for i, p in enumerate(pulls):
        while recv_or_none(p, 50) is not None:
            seen[i] += 1
    assert sum(seen) == k
    n = 100
    for i in range(n):
        push.send(b"%d" % i)
    got = [[], []]
    while len(got[0]) + len(got[1]) < n:
        progressed = False
        for i, p in enumerate(pulls):
            msg = recv_or_none(p, 100)
            if msg is not None:
                got[i].append(int(msg[0]))
                progressed = True
        assert progressed, got
    assert sorted(got[0] + got[1]) == list(range(n))
    assert got[0] == sorted(got[0]) and got[1] == sorted(got[1])
    assert abs(len(got[0]) - len(got[1])) <= 1, "round robin over two ready peers"


# -- DEALER / ROUTER -------------------------------------------------------------------------
def test_dealer_router(sides, transport, ipc_dir):
    bind_side, connect_side = sides
    router = bind_side.socket(zmq.ROUTER)
    ep = bind_any(router, transport, ipc_dir)
    named = connect_side.socket(zmq.DEALER, routing_id=b"dealer-one")
    anon = connect_side.socket(zmq.DEALER)
    named.connect(ep)
    anon.connect(ep)
    named.send_multipart([b"hello", b"from named"])
    first = router.recv_multipart()
    assert first == [b"dealer-one", b"hello", b"from named"]
    anon.send_multipart([b"hello", b"from anon"])
    rid, *rest = router.recv_multipart()
    assert rest == [b"hello", b"from anon"]
    assert len(rid) == 5 and rid[0] == 0, f"generated routing ids are 0 + 4 bytes: {rid!r}"
    # Replies are routed by the first frame.
    router.send_multipart([rid, b"to anon"])
    router.send_multipart([b"dealer-one", b"to named"])
    assert named.recv_multipart() == [b"to named"]
    assert anon.recv_multipart() == [b"to anon"]
    # Payloads through the ROUTER in both directions.
    for i, size in enumerate(SIZES):
        body = payload(size, i)
        named.send_multipart([b"", body])
        assert router.recv_multipart() == [b"dealer-one", b"", body]
        router.send_multipart([b"dealer-one", body, body[:10]])
        assert named.recv_multipart() == [body, body[:10]]
    frames = [payload(size, 30 + i) for i, size in enumerate(SIZES)]
    router.send_multipart([rid, *frames])
    assert anon.recv_multipart() == frames
    anon.send_multipart(frames)
    assert router.recv_multipart() == [rid, *frames]
    # Unknown routing ids: dropped silently, unless ROUTER_MANDATORY.
    router.send_multipart([b"nobody", b"lost"])
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    with raises_errno(zmq.EHOSTUNREACH):
        router.send_multipart([b"nobody", b"lost"])
    router.send_multipart([b"dealer-one", b"still routed"])
    assert named.recv_multipart() == [b"still routed"]
    assert recv_or_none(named, 50) is None


def test_router_connects_to_dealer(sides, transport, ipc_dir):
    """A ROUTER that connects learns the DEALER's ROUTING_ID from the handshake."""
    bind_side, connect_side = sides
    dealer = bind_side.socket(zmq.DEALER, routing_id=b"server")
    ep = bind_any(dealer, transport, ipc_dir)
    router = connect_side.socket(zmq.ROUTER, router_mandatory=1)
    router.connect(ep)
    deadline = time.monotonic() + 10
    while True:  # EHOSTUNREACH until the handshake told the ROUTER who "server" is
        try:
            router.send_multipart([b"server", b"ping"])
            break
        except Exception as e:
            assert getattr(e, "errno", None) == zmq.EHOSTUNREACH, e
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert dealer.recv_multipart() == [b"ping"]
    dealer.send_multipart([b"pong", payload(1 << 20)])
    assert router.recv_multipart() == [b"server", b"pong", payload(1 << 20)]


def test_connect_routing_id(sides, transport, ipc_dir):
    """CONNECT_ROUTING_ID names the peer of one connect() on a ROUTER."""
    bind_side, connect_side = sides
    dealer = bind_side.socket(zmq.DEALER)
    ep = bind_any(dealer, transport, ipc_dir)
    router = connect_side.socket(zmq.ROUTER, router_mandatory=1)
    router.setsockopt(zmq.CONNECT_ROUTING_ID, b"alias")
    router.connect(ep)
    dealer.send_multipart([b"hi"])
    assert router.recv_multipart() == [b"alias", b"hi"]
    router.send_multipart([b"alias", b"back"])
    assert dealer.recv_multipart() == [b"back"]


# -- PUB / SUB -------------------------------------------------------------------------------
TOPICS = [b"a", b"ab", b"b", b"bc", b"bcd", b"c", b"", b"xa", b"B"]


@pytest.mark.parametrize("sub_binds", [False, True], ids=["pub_binds", "sub_binds"])
def test_pub_sub_filtering(sides, transport, ipc_dir, sub_binds):
    bind_side, connect_side = sides
    if sub_binds:
        sub = bind_side.socket(zmq.SUB)
        ep = bind_any(sub, transport, ipc_dir)
        pub = connect_side.socket(zmq.PUB)
        pub.connect(ep)
    else:
        pub = bind_side.socket(zmq.PUB)
        ep = bind_any(pub, transport, ipc_dir)
        sub = connect_side.socket(zmq.SUB)
        sub.connect(ep)
    sub.subscribe(b"a")
    sub.subscribe(b"bc")
    sync_pubsub(pub, [sub], b"a")
    for t in TOPICS:
        pub.send_multipart([t, b"body-" + t])
    pub.send_multipart([b"end"])  # does not match: only used to bound the wait below
    want = [[t, b"body-" + t] for t in TOPICS if t.startswith((b"a", b"bc"))]
    got = [sub.recv_multipart() for _ in want]
    assert got == want
    assert recv_or_none(sub, 100) is None
    # Payload sizes, single and multipart, through the filter.
    for i, size in enumerate(SIZES):
        pub.send(b"a" + payload(size, i))
        assert sub.recv() == b"a" + payload(size, i)
    frames = [b"bc", *(payload(size, i) for i, size in enumerate(SIZES))]
    pub.send_multipart(frames)
    assert sub.recv_multipart() == frames
    # Unsubscribe; subscribing to "zz" after it and seeing "zz" proves it arrived.
    sub.unsubscribe(b"a")
    sub.subscribe(b"zz")
    sync_pubsub(pub, [sub], b"zz")
    for t in TOPICS:
        pub.send_multipart([t, b"again"])
    want = [[t, b"again"] for t in TOPICS if t.startswith(b"bc")]
    assert [sub.recv_multipart() for _ in want] == want
    assert recv_or_none(sub, 100) is None


def test_pub_two_subscribers(sides, transport, ipc_dir):
    """A publisher serves a subscriber of each library, each with its own filter."""
    bind_side, connect_side = sides
    pub = bind_side.socket(zmq.PUB)
    ep = bind_any(pub, transport, ipc_dir)
    subs = [connect_side.socket(zmq.SUB), bind_side.socket(zmq.SUB)]
    for s in subs:
        s.connect(ep)
    subs[0].subscribe(b"x")
    subs[1].subscribe(b"")
    sync_pubsub(pub, subs, b"x")
    for t in [b"x1", b"y1", b"x2", b"", b"y2"]:
        pub.send(t)
    assert [subs[0].recv() for _ in range(2)] == [b"x1", b"x2"]
    assert [subs[1].recv() for _ in range(5)] == [b"x1", b"y1", b"x2", b"", b"y2"]
    assert recv_or_none(subs[0], 100) is None


@pytest.mark.parametrize("xsub_binds", [False, True], ids=["pub_binds", "xsub_binds"])
def test_xsub_raw_subscriptions(sides, transport, ipc_dir, xsub_binds):
    """An XSUB subscribes by sending ``\\x01topic`` and cancels with ``\\x00topic``."""
    bind_side, connect_side = sides
    if xsub_binds:
        xsub = bind_side.socket(zmq.XSUB)
        ep = bind_any(xsub, transport, ipc_dir)
        pub = connect_side.socket(zmq.PUB)
        pub.connect(ep)
    else:
        pub = bind_side.socket(zmq.PUB)
        ep = bind_any(pub, transport, ipc_dir)
        xsub = connect_side.socket(zmq.XSUB)
        xsub.connect(ep)
    xsub.send(b"\x01news")
    sync_pubsub(pub, [xsub], b"news")
    for t in [b"news1", b"sport1", b"news2", b"new"]:
        pub.send_multipart([t, b"."])
    assert [xsub.recv_multipart() for _ in range(2)] == [[b"news1", b"."], [b"news2", b"."]]
    xsub.send(b"\x00news")
    xsub.send(b"\x01zz")
    sync_pubsub(pub, [xsub], b"zz")
    pub.send(b"news3")
    pub.send(b"zz-last")
    assert xsub.recv() == b"zz-last"


@pytest.mark.parametrize("verbose", [0, 1], ids=["quiet", "verbose"])
def test_xpub_sees_subscriptions(sides, transport, ipc_dir, verbose):
    bind_side, connect_side = sides
    xpub = bind_side.socket(zmq.XPUB, xpub_verbose=verbose)
    ep = bind_any(xpub, transport, ipc_dir)
    sub1 = connect_side.socket(zmq.SUB)
    sub1.connect(ep)
    sub1.subscribe(b"t")
    assert xpub.recv() == b"\x01t"
    sub2 = connect_side.socket(zmq.SUB)
    sub2.connect(ep)
    sub2.subscribe(b"t")
    if verbose:
        assert xpub.recv() == b"\x01t"  # XPUB_VERBOSE passes duplicates on
    else:
        assert recv_or_none(xpub, 300) is None
    # An XSUB's raw subscription and a plain (non-subscription) message upstream.
    xsub = connect_side.socket(zmq.XSUB)
    xsub.connect(ep)
    xsub.send(b"\x01abc")
    assert xpub.recv() == b"\x01abc"
    xsub.send(b"upstream")
    assert xpub.recv() == b"upstream"
    xpub.send(b"t-news")
    xpub.send(b"abc-news")
    assert sub1.recv() == b"t-news"
    assert sub2.recv() == b"t-news"
    assert xsub.recv() == b"abc-news"
    # Unsubscribing: XPUB hears of a topic going away only when nobody wants it any more.
    sub1.unsubscribe(b"t")
    assert recv_or_none(xpub, 300) is None
    sub2.unsubscribe(b"t")
    assert xpub.recv() == b"\x00t"
    # A subscriber leaving takes its subscriptions with it.
    xsub.close(linger=0)
    assert xpub.recv() == b"\x00abc"


def test_xpub_xsub_payloads(sides, transport, ipc_dir):
    bind_side, connect_side = sides
    xpub = bind_side.socket(zmq.XPUB)
    ep = bind_any(xpub, transport, ipc_dir)
    xsub = connect_side.socket(zmq.XSUB)
    xsub.connect(ep)
    xsub.send(b"\x01")  # everything
    assert xpub.recv() == b"\x01"
    for i, size in enumerate(SIZES):
        xpub.send(payload(size, i))
        assert xsub.recv() == payload(size, i)
    frames = [payload(size, 7 + i) for i, size in enumerate(SIZES)]
    xpub.send_multipart(frames)
    assert xsub.recv_multipart() == frames


# -- REQ -> ROUTER/DEALER broker -> REP, libraries mixed ----------------------------------------
CHAINS = [
    # (clients, broker, workers)
    pytest.param(("pyzmq@peer", "purezmq", "pyzmq@peer"), id="zmq_peer-PZ-zmq_peer"),
    pytest.param(("purezmq", "pyzmq@peer", "purezmq"), id="pz-ZMQ_peer-pz"),
    pytest.param(("pyzmq", "purezmq@peer", "pyzmq"), id="zmq-PZ_peer-zmq"),
    pytest.param(("purezmq", "pyzmq@peer", "pyzmq"), id="pz-ZMQ_peer-zmq"),
    pytest.param(("pyzmq@peer", "purezmq", "purezmq@peer"), id="zmq_peer-PZ-pz_peer"),
]


@pytest.mark.parametrize("chain", CHAINS)
def test_broker_chain(make_side, transport, ipc_dir, chain):
    client_side, broker_side, worker_side = (make_side(s) for s in chain)
    # Each end has one socket of its own side's library and one of the broker's, so every
    # hop is crossed by both libraries.
    front = broker_side.socket(zmq.ROUTER)
    back = broker_side.socket(zmq.DEALER)
    fe = bind_any(front, transport, ipc_dir)
    be = bind_any(back, transport, ipc_dir)
    workers = [worker_side.socket(zmq.REP), broker_side.socket(zmq.REP)]
    for w in workers:
        w.connect(be)
    clients = [client_side.socket(zmq.REQ), broker_side.socket(zmq.REQ)]
    for c in clients:
        c.connect(fe)
    stop = broker_side.start_broker(front, back)
    time.sleep(0.2)  # let both workers finish their handshakes: DEALER round-robins

    used = set()

    def serve_until_replied(requests):
        """Let the workers answer until every client got its reply; check them."""
        pending = dict(enumerate(requests))
        deadline = time.monotonic() + 20
        while pending:
            assert time.monotonic() < deadline, f"no reply for {sorted(pending)}"
            for wi, w in enumerate(workers):
                msg = recv_or_none(w, 5)
                if msg is not None:
                    used.add(wi)
                    w.send_multipart([b"worker%d" % wi, *msg])
            for ci in list(pending):
                reply = recv_or_none(clients[ci], 5)
                if reply is not None:
                    assert reply[0] in (b"worker0", b"worker1")
                    assert reply[1:] == pending.pop(ci), f"client {ci}"

    for rnd in range(10):
        reqs = [[b"client%d" % ci, b"round%d" % rnd] for ci in range(len(clients))]
        for c, r in zip(clients, reqs):
            c.send_multipart(r)
        serve_until_replied(reqs)
    for i, size in enumerate(SIZES):
        reqs = [[payload(size, i + ci)] for ci in range(len(clients))]
        for c, r in zip(clients, reqs):
            c.send_multipart(r)
        serve_until_replied(reqs)
    frames = [payload(size, 99 + i) for i, size in enumerate(SIZES)]
    for c in clients:
        c.send_multipart(frames)
    serve_until_replied([frames, frames])
    assert used == {0, 1}, "both workers (one per library) served requests"
    assert stop()


def test_reference_sends_subscribe_as_zmtp31_command():
    """Pins what the PUB/SUB tests exercise: libzmq 4.3 subscribes with a SUBSCRIBE command.

    A raw ZMTP 3.1 PUB greets a pyzmq SUB; the SUB's subscription arrives as a command frame
    (flag 0x04), not as a ``\\x01topic`` message, so purezmq publishers above are tested on
    the command form (and XSUB's raw messages on the other).
    """
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    try:
        sub.connect(f"tcp://127.0.0.1:{srv.getsockname()[1]}")
        conn, _ = srv.accept()
        conn.settimeout(5)
        conn.sendall(b"\xff" + bytes(8) + b"\x7f\x03\x01NULL" + bytes(16) + b"\x00" + bytes(31))
        ready = b"\x05READY\x0bSocket-Type" + (3).to_bytes(4, "big") + b"PUB"
        conn.sendall(b"\x04" + bytes([len(ready)]) + ready)
        sub.subscribe(b"topic")
        want = b"\x04\x0f\x09SUBSCRIBEtopic"
        data = b""
        while want not in data:
            chunk = conn.recv(4096)
            assert chunk, data
            data += chunk
        conn.close()
    finally:
        sub.close(linger=0)
        ctx.term()
        srv.close()


@pytest.mark.parametrize("nodrop", [False, True], ids=["plain", "nodrop"])
def test_shared_fanout_log_to_libzmq_subscribers(make_side, transport, ipc_dir, nodrop):
    """A purezmq PUB's subscribers to everything share one log (plumbing/fanout.py): libzmq
    SUBs in another process get every message, any size, multipart, in order, also after
    one of them left the log (a narrower subscription) and joined it again."""
    local = make_side("purezmq")
    peer = make_side("pyzmq@peer")
    pub = local.socket(zmq.PUB, sndhwm=0)
    if nodrop:
        pub.setsockopt(zmq.XPUB_NODROP, 1)
    ep = bind_any(pub, transport, ipc_dir)
    alls = [peer.socket(zmq.SUB, rcvhwm=0) for _ in range(3)]
    only_x = peer.socket(zmq.SUB, rcvhwm=0)
    for s in alls:
        s.connect(ep)
        s.subscribe(b"")
    only_x.connect(ep)
    only_x.subscribe(b"x")
    sync_pubsub(pub, alls)
    sync_pubsub(pub, [only_x], b"x")
    for s in alls:  # (the "x" marker reached them too)
        while recv_or_none(s, 50) is not None:
            pass
    log = pub.pattern.log
    assert log is not None and len(log.readers) == 3

    sent = []
    for i, size in enumerate(SIZES):
        m = [b"x" + payload(size, i)] if i % 2 else [b"y", payload(size, i), b"z"]
        pub.send_multipart(m)
        sent.append(m)
    for s in alls:
        assert [s.recv_multipart() for _ in sent] == sent
    assert [only_x.recv_multipart() for _ in sent[1::2]] == sent[1::2]

    # One of them narrows its subscription to "x", then takes everything again.
    alls[0].subscribe(b"x")
    alls[0].unsubscribe(b"")
    deadline = time.monotonic() + 10
    while len(log.readers) != 2:
        assert time.monotonic() < deadline, "the unsubscription never arrived"
        time.sleep(0.01)
        pub.send(b"!sync")
    narrowed = [b"x%d" % i if i % 3 else b"y%d" % i for i in range(300)]
    for m in narrowed:
        pub.send(m)
    alls[0].subscribe(b"")
    while len(log.readers) != 3:
        assert time.monotonic() < deadline, "the subscription never arrived"
        time.sleep(0.01)
        pub.send(b"x!sync")
    tail = [b"t%d" % i for i in range(300)]
    for m in tail:
        pub.send(m)
    got = []
    while (m := recv_or_none(alls[0], 300)) is not None:
        got.append(m[0])
    got = [m for m in got if not m.endswith(b"!sync")]
    assert got == [m for m in narrowed if m[:1] == b"x"] + tail
    for s in alls[1:]:
        rest = []
        while (m := recv_or_none(s, 300)) is not None:
            rest.append(m[0])
        assert [m for m in rest if not m.endswith(b"!sync")] == narrowed + tail
