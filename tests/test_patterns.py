"""Socket pattern semantics, purezmq only, over tcp, ipc and inproc.

Each test checks behaviour (what arrives where, in which order, which error) as libzmq
defines it; see the interop tests for the same against libzmq itself.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time

import pytest
from reliability.hostile import GREETING, ready
from sockhelp import (  # noqa: F401
    TIMEO,
    bind,
    context,
    fresh_addr,
    ipc_directory,
    make,
    recv_or_none,
    sync_sub,
)

import purezmq as zmq

pytestmark = pytest.mark.timeout(60)

ctx = pytest.fixture(context)
ipc_dir = pytest.fixture(scope="session")(ipc_directory)


@pytest.fixture(params=["tcp", "ipc", "inproc"])
def transport(request):
    return request.param


def concrete_addr(ctx, transport: str, ipc_dir) -> str:
    """An address nobody is bound to yet, usable before anything binds it (connect first)."""
    if transport != "tcp":
        return fresh_addr(transport, ipc_dir)
    probe = ctx.socket(zmq.PULL)
    probe.bind("tcp://127.0.0.1:*")  # let the kernel pick an ephemeral port, then free it
    ep = probe.last_endpoint.decode()
    probe.close(linger=0)
    time.sleep(0.05)  # the I/O thread closes the listener
    return ep


def wait_for(cond, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


# -- REQ / REP -------------------------------------------------------------------------------
def test_req_rep_roundtrip_and_efsm(ctx, transport, ipc_dir):
    rep = make(ctx, zmq.REP)
    ep = bind(rep, transport, ipc_dir)
    req = make(ctx, zmq.REQ)
    req.connect(ep)
    with pytest.raises(zmq.ZMQError) as e:
        req.recv()  # recv before send
    assert e.value.errno == zmq.EFSM
    with pytest.raises(zmq.ZMQError) as e:
        rep.send(b"reply to nothing")  # REP: send before recv
    assert e.value.errno == zmq.EFSM
    req.send_multipart([b"q", b"2"])
    with pytest.raises(zmq.ZMQError) as e:
        req.send(b"again")  # double send
    assert e.value.errno == zmq.EFSM
    assert rep.recv_multipart() == [b"q", b"2"]
    with pytest.raises(zmq.ZMQError) as e:
        rep.recv()  # REP: recv twice without replying
    assert e.value.errno == zmq.EFSM
    rep.send(b"a")
    assert req.recv() == b"a"
    with pytest.raises(zmq.ZMQError) as e:
        req.recv()
    assert e.value.errno == zmq.EFSM
    for i in range(20):  # strict alternation keeps working
        req.send(b"%d" % i)
        assert rep.recv() == b"%d" % i
        rep.send(b"r%d" % i)
        assert req.recv() == b"r%d" % i
    assert not rep.poll(0, zmq.POLLOUT) and rep.poll(0, zmq.POLLIN) == 0
    assert req.poll(0, zmq.POLLOUT) == zmq.POLLOUT


def test_req_load_balances_over_reps(ctx, transport, ipc_dir):
    reps = [make(ctx, zmq.REP) for _ in range(3)]
    eps = [bind(r, transport, ipc_dir) for r in reps]
    req = make(ctx, zmq.REQ)
    for ep in eps:
        req.connect(ep)
    poller = zmq.Poller()
    for r in reps:
        poller.register(r, zmq.POLLIN)
    served = []
    for i in range(9):
        req.send(b"%d" % i)
        ready = dict(poller.poll(TIMEO))
        assert len(ready) == 1, "exactly one REP got the request"
        k = reps.index(next(iter(ready)))
        served.append(k)
        reps[k].send(reps[k].recv())
        assert req.recv() == b"%d" % i
    assert served == [served[0], served[1], served[2]] * 3 and set(served) == {0, 1, 2}


def test_req_relaxed_and_correlate(ctx, transport, ipc_dir):
    router = make(ctx, zmq.ROUTER)
    ep = bind(router, transport, ipc_dir)
    req = make(ctx, zmq.REQ, req_relaxed=1, req_correlate=1)
    req.connect(ep)
    req.send(b"first")
    req.send(b"second")  # REQ_RELAXED: a new request abandons the old one
    rid, id1, empty1, body1 = router.recv_multipart()
    assert (empty1, body1) == (b"", b"first") and len(id1) == 4
    rid2, id2, empty2, body2 = router.recv_multipart()
    assert (rid2, empty2, body2) == (rid, b"", b"second") and id2 != id1
    router.send_multipart([rid, id1, b"", b"late answer to first"])
    router.send_multipart([rid, id2, b"", b"answer to second"])
    assert req.recv() == b"answer to second"  # REQ_CORRELATE dropped the stale reply
    assert req.poll(100) == 0
    req.send(b"third")
    rid3, id3, _, body3 = router.recv_multipart()
    assert body3 == b"third" and id3 not in (id1, id2)
    router.send_multipart([rid, id3, b"", b"answer to third"])
    assert req.recv() == b"answer to third"


def test_req_relaxed_without_correlate_takes_first_reply(ctx, transport, ipc_dir):
    router = make(ctx, zmq.ROUTER)
    ep = bind(router, transport, ipc_dir)
    req = make(ctx, zmq.REQ, req_relaxed=1)
    req.connect(ep)
    req.send(b"one")
    req.send(b"two")
    rid, e1, b1 = router.recv_multipart()
    assert router.recv_multipart() == [rid, b"", b"two"]
    assert (e1, b1) == (b"", b"one")
    router.send_multipart([rid, b"", b"reply"])
    assert req.recv() == b"reply"


def test_rep_keeps_multi_hop_envelope(ctx, transport, ipc_dir):
    rep = make(ctx, zmq.REP)
    ep = bind(rep, transport, ipc_dir)
    dealer = make(ctx, zmq.DEALER)
    dealer.connect(ep)
    dealer.send_multipart([b"hop1", b"hop2", b"", b"body", b"more"])
    assert rep.recv_multipart() == [b"body", b"more"]
    rep.send_multipart([b"reply", b""])
    assert dealer.recv_multipart() == [b"hop1", b"hop2", b"", b"reply", b""]
    dealer.send_multipart([b"no delimiter"])  # not a request: REP drops it
    dealer.send_multipart([b"", b"ok"])
    assert rep.recv_multipart() == [b"ok"]


# -- PUSH / PULL -----------------------------------------------------------------------------
def test_push_round_robin_across_three_pulls(ctx, transport, ipc_dir):
    pulls = [make(ctx, zmq.PULL) for _ in range(3)]
    eps = [bind(p, transport, ipc_dir) for p in pulls]
    push = make(ctx, zmq.PUSH)
    for ep in eps:
        push.connect(ep)  # connect-side peers exist at once: round robin covers all three
    for i in range(30):
        push.send(b"%d" % i)
    got = [[int(p.recv()) for _ in range(10)] for p in pulls]
    starts = sorted(g[0] for g in got)
    assert starts == [0, 1, 2]
    for g in got:
        assert g == list(range(g[0], 30, 3))
    for p in pulls:
        assert recv_or_none(p, 20) is None


def test_pull_fair_queues(ctx, transport, ipc_dir):
    pull = make(ctx, zmq.PULL)
    ep = bind(pull, transport, ipc_dir)
    pushes = [make(ctx, zmq.PUSH) for _ in range(3)]
    for p in pushes:
        p.connect(ep)
        p.send(b"hello")
        assert pull.recv() == b"hello"
    for k, p in enumerate(pushes):
        for i in range(10):
            p.send_multipart([b"%d" % k, b"%d" % i])
    wait_for(lambda: sum(len(peer.inp) for peer in pull.peers) == 30, what="30 queued")
    got = [pull.recv_multipart() for _ in range(30)]
    for rnd in range(10):
        batch = got[rnd * 3 : rnd * 3 + 3]
        assert sorted(m[0] for m in batch) == [b"0", b"1", b"2"], got
        assert all(m[1] == b"%d" % rnd for m in batch), got


# -- DEALER / ROUTER -------------------------------------------------------------------------
def test_dealer_router_envelopes(ctx, transport, ipc_dir):
    router = make(ctx, zmq.ROUTER)
    ep = bind(router, transport, ipc_dir)
    d1 = make(ctx, zmq.DEALER, routing_id=b"D1")
    d2 = make(ctx, zmq.DEALER)
    req = make(ctx, zmq.REQ, routing_id=b"R1")
    for s in (d1, d2, req):
        s.connect(ep)
    d1.send_multipart([b"a", b"b"])
    assert router.recv_multipart() == [b"D1", b"a", b"b"]
    d2.send(b"x")
    rid2, body = router.recv_multipart()
    assert body == b"x" and len(rid2) == 5 and rid2[0] == 0
    req.send(b"question")
    assert router.recv_multipart() == [b"R1", b"", b"question"]
    router.send_multipart([b"R1", b"", b"answer"])
    assert req.recv() == b"answer"
    router.send_multipart([rid2, b"to d2"])
    router.send_multipart([b"D1", b"to d1", b""])
    assert d2.recv_multipart() == [b"to d2"]
    assert d1.recv_multipart() == [b"to d1", b""]
    # Unknown id: dropped, or EHOSTUNREACH with ROUTER_MANDATORY.
    router.send_multipart([b"ghost", b"x"])
    router.router_mandatory = 1
    with pytest.raises(zmq.ZMQError) as e:
        router.send_multipart([b"ghost", b"x"])
    assert e.value.errno == zmq.EHOSTUNREACH
    # DEALER round-robins out and fair-queues in.
    rep_a, rep_b = make(ctx, zmq.ROUTER), make(ctx, zmq.ROUTER)
    ea, eb = bind(rep_a, transport, ipc_dir), bind(rep_b, transport, ipc_dir)
    d3 = make(ctx, zmq.DEALER, routing_id=b"D3")
    d3.connect(ea)
    d3.connect(eb)
    for i in range(4):
        d3.send(b"%d" % i)
    assert [rep_a.recv_multipart() for _ in range(2)] == [[b"D3", b"0"], [b"D3", b"2"]]
    assert [rep_b.recv_multipart() for _ in range(2)] == [[b"D3", b"1"], [b"D3", b"3"]]


def test_router_handover_and_duplicate_id(ctx, transport, ipc_dir):
    router = make(ctx, zmq.ROUTER)
    ep = bind(router, transport, ipc_dir)
    first = make(ctx, zmq.DEALER, routing_id=b"same")
    first.connect(ep)
    first.send(b"from first")
    assert router.recv_multipart() == [b"same", b"from first"]
    second = make(ctx, zmq.DEALER, routing_id=b"same")
    second.connect(ep)
    second.send(b"from second")  # refused: the id is taken (no ROUTER_HANDOVER)
    assert recv_or_none(router, 300) is None
    router.send_multipart([b"same", b"to owner"])
    assert first.recv() == b"to owner"


# -- PUB / SUB -------------------------------------------------------------------------------
def test_pub_sub_prefix_matching(ctx, transport, ipc_dir):
    pub = make(ctx, zmq.PUB)
    ep = bind(pub, transport, ipc_dir)
    sub = make(ctx, zmq.SUB)
    sub.connect(ep)
    sub.subscribe(b"ab")
    sub.subscribe(b"x")
    sub.subscribe(b"x")  # counted twice
    sync_sub(pub, [sub], b"ab")
    topics = [b"a", b"ab", b"abc", b"b", b"x", b"xyz", b"", b"Ab", b"yx"]
    for t in topics:
        pub.send_multipart([t, b"!"])
    want = [[t, b"!"] for t in topics if t.startswith((b"ab", b"x"))]
    assert [sub.recv_multipart() for _ in want] == want
    assert recv_or_none(sub, 50) is None
    sub.unsubscribe(b"x")  # one of two: still subscribed
    sub.unsubscribe(b"ab")
    sub.subscribe(b"zz")
    sync_sub(pub, [sub], b"zz")
    for t in topics:
        pub.send(t)
    assert [sub.recv() for _ in range(2)] == [b"x", b"xyz"]
    assert recv_or_none(sub, 50) is None
    sub.unsubscribe(b"x")
    sub.subscribe(b"")  # everything
    sync_sub(pub, [sub], b"")
    for t in topics:
        pub.send(t)
    assert [sub.recv() for _ in topics] == topics
    sub.unsubscribe(b"")  # back to filtering: only "zz" again
    time.sleep(0.2)  # the cancel travels to the PUB; the SUB filters at once anyway
    for t in [*topics, b"zzz"]:
        pub.send(t)
    assert sub.recv() == b"zzz"
    assert recv_or_none(sub, 50) is None


def test_pub_fans_out_to_matching_subscribers(ctx, transport, ipc_dir):
    pub = make(ctx, zmq.PUB)
    ep = bind(pub, transport, ipc_dir)
    subs = [make(ctx, zmq.SUB) for _ in range(3)]
    for s, topic in zip(subs, [b"", b"a", b"b"]):
        s.connect(ep)
        s.subscribe(topic)
    sync_sub(pub, subs[:1], b"")
    sync_sub(pub, subs[1:2], b"a")
    sync_sub(pub, subs[2:], b"b")
    for s in subs:  # subs[0] also got the other markers
        while recv_or_none(s, 20) is not None:
            pass
    for t in [b"a1", b"b1", b"c1"]:
        pub.send(t)
    assert [subs[0].recv() for _ in range(3)] == [b"a1", b"b1", b"c1"]
    assert subs[1].recv() == b"a1"
    assert subs[2].recv() == b"b1"
    assert recv_or_none(subs[1], 50) is None and recv_or_none(subs[2], 50) is None


def test_pub_fan_out_gives_each_sub_its_own_multipart_message(ctx, transport, ipc_dir):
    """Reading a message frame by frame consumes it: over inproc (no encoding between)
    every subscriber must still get the whole message, frames in order."""
    pub = make(ctx, zmq.PUB)
    ep = bind(pub, transport, ipc_dir)
    subs = [make(ctx, zmq.SUB) for _ in range(3)]
    for s in subs:
        s.connect(ep)
        s.subscribe(b"")
    sync_sub(pub, subs, b"")
    for s in subs:
        while recv_or_none(s, 20) is not None:
            pass
    pub.send_multipart([b"t", b"one", b"two"])
    pub.send(b"single")
    for s in subs:
        assert [s.recv(), s.recv(), s.recv()] == [b"t", b"one", b"two"]
        assert not s.rcvmore
        assert s.recv() == b"single"


def test_sub_connects_before_pub_binds(ctx, transport, ipc_dir):
    addr = concrete_addr(ctx, transport, ipc_dir)
    sub = make(ctx, zmq.SUB)
    sub.subscribe(b"t")
    sub.connect(addr)
    pub = make(ctx, zmq.PUB)
    pub.bind(addr)
    sync_sub(pub, [sub], b"t")
    pub.send(b"t-late-bind")
    assert sub.recv() == b"t-late-bind"


# -- XPUB / XSUB -----------------------------------------------------------------------------
@pytest.mark.parametrize("verbose", [0, 1])
def test_xpub_verbose(ctx, transport, ipc_dir, verbose):
    xpub = make(ctx, zmq.XPUB, xpub_verbose=verbose)
    ep = bind(xpub, transport, ipc_dir)
    subs = [make(ctx, zmq.SUB) for _ in range(2)]
    for s in subs:
        s.connect(ep)
    subs[0].subscribe(b"t")
    assert xpub.recv() == b"\x01t"
    subs[1].subscribe(b"t")
    if verbose:
        assert xpub.recv() == b"\x01t"
    else:
        assert recv_or_none(xpub, 200) is None
        assert xpub.poll(0) == 0
    subs[0].unsubscribe(b"t")
    assert recv_or_none(xpub, 200) is None  # someone still wants "t"
    subs[1].unsubscribe(b"t")
    assert xpub.recv() == b"\x00t"
    subs[1].subscribe(b"u")
    assert xpub.recv() == b"\x01u"
    subs[1].close(linger=0)
    assert xpub.recv() == b"\x00u"  # a leaving subscriber's topics go away


@pytest.mark.parametrize("lib", ["purezmq", "pyzmq"])
def test_xpub_keeps_one_subscription_per_peer_and_topic(lib):
    """A subscription that comes again from the same peer is one, as in libzmq's mtrie (a
    SUB re-sends its topics on reconnect; an XSUB may send anything): one cancel ends it.
    A hand-written ZMTP peer sends the repeats; libzmq (pyzmq) is the reference."""
    lz = pytest.importorskip("zmq") if lib == "pyzmq" else zmq
    context = lz.Context()
    xpub = context.socket(lz.XPUB)
    xpub.rcvtimeo = 5000
    try:
        xpub.bind("tcp://127.0.0.1:*")
        port = int(xpub.last_endpoint.decode().rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            frame = lambda body: bytes((0, len(body))) + body  # noqa: E731
            raw.sendall(GREETING + ready("XSUB"))
            got = b""
            while b"READY" not in got:  # the XPUB's greeting and READY: handshake done
                chunk = raw.recv(4096)
                assert chunk
                got += chunk
            raw.sendall(frame(b"\x01A") + frame(b"\x01A"))
            assert xpub.recv() == b"\x01A"  # once: the repeat is no news
            raw.sendall(frame(b"\x00A"))
            assert xpub.recv() == b"\x00A"  # one cancel, and nobody wants "A" now
    finally:
        xpub.close(linger=0)
        context.term()


@pytest.mark.parametrize("lib", ["purezmq", "pyzmq"])
@pytest.mark.parametrize("pub_type", ["PUB", "XPUB"])
def test_pub_invert_matching_sends_what_no_subscription_matches(lib, pub_type):
    """INVERT_MATCHING on a publisher: each peer gets the messages none of its subscriptions
    match (an XSUB, which does not filter, shows what went on the wire; a SUB must invert
    too).  libzmq (pyzmq) is the reference."""
    lz = pytest.importorskip("zmq") if lib == "pyzmq" else zmq
    context = lz.Context()
    pub = context.socket(getattr(lz, pub_type))
    pub.setsockopt(lz.INVERT_MATCHING, 1)
    xsub, sub, everything = (context.socket(t) for t in (lz.XSUB, lz.SUB, lz.XSUB))
    socks = [pub, xsub, sub, everything]
    try:
        pub.bind("tcp://127.0.0.1:*")
        for s in (xsub, sub, everything):
            s.rcvtimeo = 5000
            s.connect(pub.last_endpoint.decode())
        xsub.send(b"\x01A")
        sub.setsockopt(lz.INVERT_MATCHING, 1)
        sub.subscribe(b"A")
        everything.send(b"\x01")
        if pub_type == "XPUB":
            pub.rcvtimeo = 5000
            assert sorted(pub.recv() for _ in range(2)) == [b"\x01", b"\x01A"]
        deadline = time.monotonic() + 10
        while True:  # until all three subscriptions are in (a B- reaches both A-filters)
            assert time.monotonic() < deadline, "subscriptions never arrived"
            pub.send(b"B-sync")
            if xsub.poll(20) and sub.poll(20):
                break
        time.sleep(0.1)
        for s in (xsub, sub):
            while s.poll(50):
                s.recv()
        for topic in (b"A1", b"B1", b"AB", b"C1", b"end"):
            pub.send(topic)
        assert [xsub.recv() for _ in range(3)] == [b"B1", b"C1", b"end"]
        assert [sub.recv() for _ in range(3)] == [b"B1", b"C1", b"end"]
        assert everything.poll(200) == 0  # subscribed to everything: gets nothing
        pub.setsockopt(lz.INVERT_MATCHING, 0)  # and back: plain matching again
        for topic in (b"A2", b"B2"):
            pub.send(topic)
        assert xsub.recv() == b"A2"
        assert [everything.recv(), everything.recv()] == [b"A2", b"B2"]
    finally:
        for s in socks:
            s.close(linger=0)
        context.term()


def test_sub_sends_every_subscribe_and_cancels_at_the_last(ctx, transport, ipc_dir):
    """libzmq's SUB: a repeated subscribe goes out again (an XPUB_VERBOSE sees each), an
    unsubscribe only when its topic's last subscription goes."""
    xpub = make(ctx, zmq.XPUB, xpub_verbose=1)
    sub = make(ctx, zmq.SUB)
    sub.connect(bind(xpub, transport, ipc_dir))
    sub.subscribe(b"t")
    sub.subscribe(b"t")
    assert [xpub.recv(), xpub.recv()] == [b"\x01t", b"\x01t"]
    sub.unsubscribe(b"t")
    assert recv_or_none(xpub, 200) is None
    sub.unsubscribe(b"t")
    assert xpub.recv() == b"\x00t"


def test_xpub_manual(ctx, transport, ipc_dir):
    xpub = make(ctx, zmq.XPUB, xpub_manual=1)
    ep = bind(xpub, transport, ipc_dir)
    sub = make(ctx, zmq.SUB)
    sub.connect(ep)
    sub.subscribe(b"a")
    sub.subscribe(b"b")
    assert xpub.recv() == b"\x01a"
    assert xpub.recv() == b"\x01b"
    xpub.send(b"a-not-yet")  # manual: nothing is subscribed until the application says so
    xpub.send(b"b-not-yet")
    xpub.subscribe(b"b")  # installs "b" for the peer whose subscription was read last
    xpub.send(b"a-still-not")
    xpub.send(b"b-yes")
    assert sub.recv() == b"b-yes"
    assert recv_or_none(sub, 100) is None
    sub.unsubscribe(b"a")
    assert xpub.recv() == b"\x00a"
    xpub.unsubscribe(b"b")
    xpub.send(b"b-gone")
    xpub.send(b"a-gone")
    xpub.subscribe(b"b")
    xpub.send(b"b-again")
    assert sub.recv() == b"b-again"


def test_xpub_welcome_message(ctx, transport, ipc_dir):
    xpub = make(ctx, zmq.XPUB, xpub_welcome_msg=b"welcome")
    ep = bind(xpub, transport, ipc_dir)
    sub = make(ctx, zmq.SUB)
    sub.subscribe(b"welcome")
    sub.connect(ep)
    # The XPUB attaches a new peer (and greets it) when it next runs, as libzmq's socket
    # processes its commands: here when it reads the subscription.
    assert xpub.recv() == b"\x01welcome"
    assert sub.recv() == b"welcome"
    other = make(ctx, zmq.SUB)
    other.subscribe(b"w")
    other.connect(ep)
    assert xpub.recv() == b"\x01w"
    assert other.recv() == b"welcome"
    assert recv_or_none(sub, 100) is None  # the welcome goes to the new peer only


def test_xsub_raw_subscriptions_and_upstream_messages(ctx, transport, ipc_dir):
    xpub = make(ctx, zmq.XPUB)
    ep = bind(xpub, transport, ipc_dir)
    xsub = make(ctx, zmq.XSUB)
    xsub.connect(ep)
    xsub.send(b"\x01news")
    assert xpub.recv() == b"\x01news"
    xsub.send_multipart([b"up", b"stream"])  # not a subscription: passed upstream
    assert xpub.recv_multipart() == [b"up", b"stream"]
    xpub.send(b"news!")
    xpub.send(b"sport!")
    assert xsub.recv() == b"news!"
    assert recv_or_none(xsub, 100) is None
    xsub.send(b"\x00news")
    assert xpub.recv() == b"\x00news"


# -- high-water marks, blocking, timeouts ------------------------------------------------------
def test_push_without_peers_would_block(ctx):
    push = make(ctx, zmq.PUSH, sndtimeo=100)
    with pytest.raises(zmq.Again):
        push.send(b"x", zmq.DONTWAIT)
    t0 = time.monotonic()
    with pytest.raises(zmq.Again):
        push.send(b"x")
    assert 0.08 <= time.monotonic() - t0 < 2.0
    push.bind("tcp://127.0.0.1:*")  # bound but nobody connected: still no peer
    with pytest.raises(zmq.Again):
        push.send(b"x", zmq.DONTWAIT)
    assert push.poll(50, zmq.POLLOUT) == 0


def test_sndhwm_blocks_a_connected_push(ctx, transport, ipc_dir):
    addr = concrete_addr(ctx, transport, ipc_dir)  # nobody will bind it
    push = make(ctx, zmq.PUSH, sndhwm=5, sndtimeo=0)
    push.connect(addr)
    sent = 0
    with pytest.raises(zmq.Again):
        for _ in range(5000):
            push.send(b"m")
            sent += 1
    if transport == "inproc":
        assert sent >= 5  # libzmq adds the (future) binder's RCVHWM to an inproc pipe
    else:
        assert sent == 5
    assert push.poll(0, zmq.POLLOUT) == 0


def test_pub_never_blocks_slow_sub_drops_fast_sub_keeps_up(ctx, transport, ipc_dir):
    hwm, size, n, burst = 10, 1000, 3000, 2
    pub = make(ctx, zmq.PUB, sndhwm=hwm, sndbuf=4096)
    ep = bind(pub, transport, ipc_dir)
    slow = make(ctx, zmq.SUB, rcvhwm=hwm, rcvbuf=4096)
    fast = make(ctx, zmq.SUB)
    for s in (slow, fast):
        s.connect(ep)
        s.subscribe(b"")
    sync_sub(pub, [slow, fast], b"")
    t0 = time.monotonic()
    fast_got = []
    body = b"." * size
    for i in range(0, n, burst):  # small bursts: the fast SUB is never hwm behind
        for k in range(i, i + burst):
            pub.send_multipart([b"%d" % k, body], zmq.DONTWAIT)  # never raises Again
        for _ in range(burst):
            fast_got.append(int(fast.recv_multipart()[0]))
    assert fast_got == list(range(n)), "the fast subscriber lost nothing"
    assert time.monotonic() - t0 < 30
    slow_got = []
    while (m := recv_or_none(slow, 200)) is not None:
        slow_got.append(int(m[0]))
    assert len(slow_got) < n, "the slow subscriber lost messages at its high-water mark"
    assert slow_got == sorted(set(slow_got))
    assert slow_got[:hwm] == list(range(hwm))


def test_rcvtimeo_raises_again_after_timeout(ctx, transport, ipc_dir):
    pull = make(ctx, zmq.PULL, rcvtimeo=200)
    bind(pull, transport, ipc_dir)
    t0 = time.monotonic()
    with pytest.raises(zmq.Again):
        pull.recv()
    elapsed = time.monotonic() - t0
    assert 0.18 <= elapsed < 1.5, elapsed
    pull.rcvtimeo = 0
    t0 = time.monotonic()
    with pytest.raises(zmq.Again):
        pull.recv()
    assert time.monotonic() - t0 < 0.1


# -- linger and shutdown -----------------------------------------------------------------------
@pytest.mark.parametrize("when", ["connected", "before_handshake", "before_bind"])
def test_linger_delivers_pending_messages_on_close(ctx, transport, ipc_dir, when):
    if when == "before_bind":
        ep = concrete_addr(ctx, transport, ipc_dir)
    else:
        pull = make(ctx, zmq.PULL)
        ep = bind(pull, transport, ipc_dir)
    push = make(ctx, zmq.PUSH, linger=5000)
    push.connect(ep)
    if when == "connected":
        push.send(b"hello")
        assert pull.recv() == b"hello"
    body = os.urandom(65536)
    n = 200  # ~13 MB: far more than socket buffers hold when close() returns
    for i in range(n):
        push.send_multipart([b"%d" % i, body])
    push.close()
    if when == "before_bind":  # the closed socket keeps connecting while it lingers
        time.sleep(0.3)
        pull = make(ctx, zmq.PULL)
        pull.bind(ep)
    got = [pull.recv_multipart() for _ in range(n)]
    assert [int(m[0]) for m in got] == list(range(n))
    assert all(m[1] == body for m in got)


def test_linger_zero_term_is_prompt(transport, ipc_dir):
    c = zmq.Context()
    addr = concrete_addr(c, transport, ipc_dir)  # nobody will bind: messages stay queued
    push = c.socket(zmq.PUSH)
    push.connect(addr)
    for _ in range(10):
        push.send(b"pending", zmq.DONTWAIT)
    push.linger = 0
    push.close()
    t0 = time.monotonic()
    c.term()
    assert time.monotonic() - t0 < 1.0


def test_term_unblocks_recv_with_context_terminated(transport, ipc_dir):
    c = zmq.Context()
    pull = c.socket(zmq.PULL)
    bind(pull, transport, ipc_dir)
    errors = []

    def reader() -> None:
        try:
            pull.recv()
        except zmq.ContextTerminated as e:
            errors.append(e)
        pull.close(linger=0)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.1)
    c.term()
    t.join(5)
    assert not t.is_alive() and len(errors) == 1


# -- endpoints ---------------------------------------------------------------------------------
def test_connect_before_bind(ctx, transport, ipc_dir):
    addr = concrete_addr(ctx, transport, ipc_dir)
    push = make(ctx, zmq.PUSH)
    push.connect(addr)
    for i in range(5):
        push.send(b"%d" % i)  # queued until the binder exists
    time.sleep(0.2)
    pull = make(ctx, zmq.PULL)
    pull.bind(addr)
    assert [pull.recv() for _ in range(5)] == [b"%d" % i for i in range(5)]
    req = make(ctx, zmq.REQ)
    addr2 = concrete_addr(ctx, transport, ipc_dir)
    req.connect(addr2)
    req.send(b"ping")
    rep = make(ctx, zmq.REP)
    rep.bind(addr2)
    assert rep.recv() == b"ping"
    rep.send(b"pong")
    assert req.recv() == b"pong"


def test_several_endpoints_per_socket(ctx, ipc_dir):
    pull = make(ctx, zmq.PULL)
    eps = [bind(pull, t, ipc_dir) for t in ("tcp", "ipc", "inproc", "tcp")]
    pushes = []
    for k, ep in enumerate(eps):
        p = make(ctx, zmq.PUSH)
        p.connect(ep)
        p.send(b"via %d" % k)
        pushes.append(p)
    assert sorted(pull.recv() for _ in eps) == [b"via %d" % k for k in range(4)]
    # One socket connected to several endpoints.
    pulls = [make(ctx, zmq.PULL) for _ in range(3)]
    push = make(ctx, zmq.PUSH)
    for p, t in zip(pulls, ("tcp", "ipc", "inproc")):
        push.connect(bind(p, t, ipc_dir))
    for i in range(6):
        push.send(b"%d" % i)
    assert sorted(int(p.recv()) for p in pulls for _ in range(2)) == list(range(6))


def test_disconnect_stops_traffic_to_that_endpoint(ctx, transport, ipc_dir):
    a, b = make(ctx, zmq.PULL), make(ctx, zmq.PULL)
    ea, eb = bind(a, transport, ipc_dir), bind(b, transport, ipc_dir)
    push = make(ctx, zmq.PUSH)
    push.connect(ea)
    push.connect(eb)
    push.send(b"0")
    push.send(b"1")
    assert a.recv() == b"0" and b.recv() == b"1"
    push.disconnect(ea)
    for i in range(4):
        push.send(b"after%d" % i)
    assert [b.recv() for _ in range(4)] == [b"after%d" % i for i in range(4)]
    assert recv_or_none(a, 100) is None
    with pytest.raises(zmq.ZMQError) as e:
        push.disconnect(ea)
    assert e.value.errno == errno.ENOENT


def test_unbind_stops_accepting(ctx, transport, ipc_dir):
    pull = make(ctx, zmq.PULL)
    ep = bind(pull, transport, ipc_dir)
    ep2 = bind(pull, transport, ipc_dir)
    first = make(ctx, zmq.PUSH)
    first.connect(ep)
    first.send(b"before")
    assert pull.recv() == b"before"
    pull.unbind(ep)
    with pytest.raises(zmq.ZMQError) as e:
        pull.unbind(ep)
    assert e.value.errno == errno.ENOENT
    time.sleep(0.1)
    late = make(ctx, zmq.PUSH)
    late.connect(ep)
    late.send(b"lost", zmq.DONTWAIT)
    assert recv_or_none(pull, 300) is None
    other = make(ctx, zmq.PUSH)  # the other endpoint still works
    other.connect(ep2)
    other.send(b"still bound")
    assert pull.recv() == b"still bound"
    if transport != "inproc":
        # The address is free again: another socket can bind it.
        again = make(ctx, zmq.PULL)
        wait_for(lambda: _try_bind(again, ep), what="rebinding the unbound address")


def _try_bind(sock, addr: str) -> bool:
    try:
        sock.bind(addr)
    except zmq.ZMQError as e:
        assert e.errno == zmq.EADDRINUSE
        return False
    return True


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "stype, op",
    [
        (zmq.PUB, "recv"),
        (zmq.SUB, "send"),
        (zmq.PUSH, "recv"),
        (zmq.PULL, "send"),
    ],
)
def test_enotsup(ctx, stype, op):
    s = make(ctx, stype)
    with pytest.raises(zmq.ZMQError) as e:
        if op == "recv":
            s.recv(zmq.DONTWAIT)
        else:
            s.send(b"x", zmq.DONTWAIT)
    assert e.value.errno == zmq.ENOTSUP


@pytest.mark.parametrize(
    "addr, code",
    [
        ("tcp://", zmq.EINVAL),
        ("tcp//127.0.0.1:5555", zmq.EINVAL),
        ("127.0.0.1:5555", zmq.EINVAL),
        ("tcp://127.0.0.1", zmq.EINVAL),
        ("tcp://127.0.0.1:notaport", zmq.EINVAL),
        ("foo://bar", zmq.EPROTONOSUPPORT),
        ("pgm2://x", zmq.EPROTONOSUPPORT),
    ],
)
@pytest.mark.parametrize("method", ["bind", "connect"])
def test_bad_endpoints(ctx, addr, code, method):
    s = make(ctx, zmq.PAIR)
    with pytest.raises(zmq.ZMQError) as e:
        getattr(s, method)(addr)
    assert e.value.errno == code


def test_connect_to_wildcard_is_einval(ctx):
    s = make(ctx, zmq.PUSH)
    with pytest.raises(zmq.ZMQError) as e:
        s.connect("tcp://127.0.0.1:*")
    assert e.value.errno == zmq.EINVAL


@pytest.mark.parametrize("transport", ["tcp", "inproc"])  # ipc: libzmq takes the path over
def test_eaddrinuse(ctx, transport, ipc_dir):
    a = make(ctx, zmq.PULL)
    ep = bind(a, transport, ipc_dir)
    b = make(ctx, zmq.PULL)
    with pytest.raises(zmq.ZMQError) as e:
        b.bind(ep)
    assert e.value.errno == zmq.EADDRINUSE
    # The failed bind did not disturb the first socket.
    p = make(ctx, zmq.PUSH)
    p.connect(ep)
    p.send(b"ok")
    assert a.recv() == b"ok"


# -- payloads over every transport ---------------------------------------------------------------
SIZES = (0, 1, 255, 256, 65536, 1 << 20)


@pytest.mark.parametrize("stype", [zmq.PAIR, zmq.DEALER], ids=["PAIR", "DEALER"])
def test_payload_sizes(ctx, transport, ipc_dir, stype):
    a = make(ctx, stype)
    ep = bind(a, transport, ipc_dir)
    b = make(ctx, stype)
    b.connect(ep)
    bodies = [os.urandom(n) for n in SIZES]
    for body in bodies:
        b.send(body)
    assert [a.recv() for _ in bodies] == bodies
    a.send_multipart(bodies)
    a.send_multipart([b""])
    assert b.recv_multipart() == bodies
    assert b.recv_multipart() == [b""]


def test_xpub_nodrop_blocks_at_a_filtered_subscribers_mark(ctx, transport, ipc_dir):
    """A topic subscriber keeps its own pipe: NODROP says EAGAIN at its mark, loses
    nothing, and goes on once it reads (the one-matched-peer path of the fan-out)."""
    pub = make(ctx, zmq.PUB, sndhwm=20, sndbuf=4096, sndtimeo=0)
    pub.setsockopt(zmq.XPUB_NODROP, 1)
    ep = bind(pub, transport, ipc_dir)
    sub = make(ctx, zmq.SUB, rcvhwm=20, rcvbuf=4096)
    sub.connect(ep)
    sub.subscribe(b"t")
    sync_sub(pub, [sub], b"t")
    body = b"." * 1000
    sent = 0
    while True:
        try:
            pub.send(b"t%06d" % sent + body)
        except zmq.Again:
            break
        pub.send(b"other")  # matches nobody: never blocks
        sent += 1
        assert sent < 20_000, "NODROP never pushed back"
    assert sent >= 20
    got = [int(sub.recv()[1:7]) for _ in range(sent)]
    assert got == list(range(sent))
    pub.sndtimeo = TIMEO
    pub.send(b"t-after")
    assert sub.recv() == b"t-after"
