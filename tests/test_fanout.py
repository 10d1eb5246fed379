"""The publisher's shared log (plumbing/fanout.py): alone against a model, then in PUB
sockets whose subscribers join it, leave it, fall behind and come back."""

from __future__ import annotations

import gc
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sockhelp import (  # noqa: F401
    bind,
    context,
    ipc_directory,
    make,
    recv_or_none,
    sync_sub,
)

import purezmq as zmq
from purezmq.plumbing import fanout
from purezmq.plumbing.fanout import FanoutLog, Follow, LogReader, wire_form
from purezmq.plumbing.pipe import Peer, Pipe

pytestmark = pytest.mark.timeout(60)

ctx = pytest.fixture(context)
ipc_dir = pytest.fixture(scope="session")(ipc_directory)


# -- the log alone --------------------------------------------------------------------------
def _peer() -> Peer:
    return Peer(Pipe(), Pipe())


def _joined(log: FanoutLog, peer: Peer) -> LogReader:
    log.join(peer)
    marker = peer.out.q.pop()
    assert marker.__class__ is Follow
    return marker.reader


def _drain(reader: LogReader) -> list[bytes]:
    got = []
    while (chunk := reader.take()) is not None:
        got.extend(chunk)
    return got


def test_wire_form_is_zmtp_frames():
    assert wire_form(b"ab") == b"\x00\x02ab"
    assert wire_form(b"x" * 300) == b"\x02" + (300).to_bytes(8, "big") + b"x" * 300
    assert wire_form([b"a", b"bc"]) == b"\x01\x01a\x00\x02bc"


def test_readers_see_every_message_from_their_join_across_blocks():
    log = FanoutLog(0)
    a = _joined(log, _peer())
    for i in range(fanout.BLOCK_MSGS * 2 + 7):
        if i == 100:
            b = _joined(log, _peer())
        log.publish(b"%d" % i)
    assert _drain(a) == [b"%d" % i for i in range(fanout.BLOCK_MSGS * 2 + 7)]
    assert _drain(b) == [b"%d" % i for i in range(100, fanout.BLOCK_MSGS * 2 + 7)]
    assert a.pos == b.pos == log.seq
    assert not a.pending() and a.take() is None


def test_a_take_is_at_most_one_block_of_bytes():
    log = FanoutLog(0)
    r = _joined(log, _peer())
    big = b"x" * 40_000
    for _ in range(10):
        log.publish(big)
    sizes = []
    while (chunk := r.take()) is not None:
        sizes.append(sum(map(len, chunk)))
    assert sum(sizes) == 10 * len(big)
    assert max(sizes) <= fanout.BLOCK_BYTES + len(big)
    assert len(sizes) > 1


def test_a_reader_stops_where_it_left():
    log = FanoutLog(0)
    peer = _peer()
    r = _joined(log, peer)
    for i in range(5):
        log.publish(b"%d" % i)
    assert log.leave(peer) is r
    for i in range(5, 9):
        log.publish(b"%d" % i)
    assert log.settled() == []  # its engine has not reached the stop yet
    assert _drain(r) == [b"%d" % i for i in range(5)]
    r.done = True  # what the engine does at the stop
    assert log.settled() == [peer]
    assert peer not in log.draining and peer not in log.readers


def test_arm_asks_for_one_wake_at_the_next_publish():
    log = FanoutLog(0)
    peer = _peer()
    woken = []
    peer.out.on_readable = woken.append
    r = _joined(log, peer)
    woken.clear()  # (the marker itself woke it)
    assert r.arm() is False
    log.publish(b"a")
    log.publish(b"b")
    assert woken == [peer.out]
    assert r.arm() is True  # something is there: no need to sleep
    assert _drain(r) == [b"a", b"b"]


def test_consumed_blocks_are_freed():
    log = FanoutLog(0)
    r = _joined(log, _peer())
    for i in range(fanout.BLOCK_MSGS * 20):
        log.publish(b"m")
        if i % 500 == 0:
            _drain(r)
    _drain(r)
    gc.collect()
    blocks = sum(1 for o in gc.get_objects() if o.__class__ is fanout.Block)
    assert blocks <= 3


def test_nodrop_refuses_at_the_slowest_readers_mark_and_its_take_wakes_the_writer():
    writable = []
    log = FanoutLog(10, lambda: writable.append(1))
    fast = _joined(log, _peer())
    slow = _joined(log, _peer())
    sent = 0
    while log.room > 0 or log.make_room(True) is True:
        log.publish(b"%d" % sent)
        sent += 1
        _drain(fast)
        assert sent < 100
    assert sent == 10 and log.blocked_on is slow
    assert not writable
    assert len(_drain(slow)) == 10
    assert writable == [1] and log.blocked_on is None
    assert log.make_room(True) is True


def test_without_nodrop_a_laggard_is_parked_until_it_has_drained():
    log = FanoutLog(4)
    fast_peer, slow_peer = _peer(), _peer()
    fast = _joined(log, fast_peer)
    slow = _joined(log, slow_peer)
    parked = None
    for i in range(6):
        if log.room <= 0:
            room = log.make_room(False)
            if room is not True:
                parked = room
        log.publish(b"%d" % i)
        _drain(fast)
    assert parked == [slow_peer]
    assert list(log.readers) == [fast_peer]
    assert log.draining[slow_peer].dropping
    assert _drain(slow) == [b"0", b"1", b"2", b"3"]  # what it had before the mark


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ptjl"), st.integers(0, 2)), max_size=400))
def test_log_against_a_model(ops):
    """Any interleaving of publish, take, join and leave: each reader gets exactly the
    messages published between its join and its stop, in order."""
    log = FanoutLog(0)
    peers = [_peer() for _ in range(3)]
    readers: dict[int, LogReader] = {}
    got: dict[int, list] = {0: [], 1: [], 2: []}
    want: dict[int, list] = {0: [], 1: [], 2: []}
    following = set()
    n = 0
    for op, k in ops:
        if op == "p":
            msg = b"%d" % n
            n += 1
            log.publish(msg)
            for j in following:
                want[j].append(msg)
        elif op == "t" and k in readers:
            chunk = readers[k].take()
            if chunk is not None:
                got[k].extend(chunk)
        elif op == "j" and k not in following and peers[k] not in log.draining:
            readers[k] = _joined(log, peers[k])
            following.add(k)
        elif op == "l" and k in following:
            log.leave(peers[k])
            following.discard(k)
    for k, r in readers.items():
        got[k].extend(_drain(r))
    for k in range(3):
        # A reader replaced by a later join took its earlier messages in an earlier reader.
        assert got[k] == want[k][len(want[k]) - len(got[k]):]
        assert set(got[k]) <= set(want[k])


# -- in a PUB socket --------------------------------------------------------------------------
def _numbered(n: int) -> list[bytes]:
    return [b"%d" % i for i in range(n)]


def _each_gets(subs, msgs: list[bytes]) -> None:
    for s in subs:
        assert [s.recv() for _ in msgs] == msgs


def _followers(pub) -> int:
    log = pub.pattern.log
    return 0 if log is None else len(log.readers)


def _slow_and_fast(ctx, transport, ipc_dir, hwm: int, **pub_options):
    """A PUB with small buffers, a SUB that reads when the test says and one that keeps
    up, both following the PUB's log."""
    pub = make(ctx, zmq.PUB, sndhwm=hwm, sndbuf=4096, **pub_options)
    ep = bind(pub, transport, ipc_dir)
    slow = make(ctx, zmq.SUB, rcvhwm=hwm, rcvbuf=4096)
    fast = make(ctx, zmq.SUB)
    for s in (slow, fast):
        s.connect(ep)
        s.subscribe(b"")
    sync_sub(pub, [slow, fast])
    assert _followers(pub) == 2
    return pub, slow, fast


@pytest.fixture(params=["tcp", "ipc"])
def transport(request):
    return request.param


def test_subscribers_to_everything_share_one_log_and_filtered_ones_do_not(
    ctx, transport, ipc_dir
):
    pub = make(ctx, zmq.PUB)
    ep = bind(pub, transport, ipc_dir)
    alls = [make(ctx, zmq.SUB) for _ in range(3)]
    only_a = make(ctx, zmq.SUB)
    local = make(ctx, zmq.SUB)  # inproc: keeps its pipe
    pub.bind("inproc://fanout-local")
    for s in alls:
        s.connect(ep)
        s.subscribe(b"")
    only_a.connect(ep)
    only_a.subscribe(b"A")
    local.connect("inproc://fanout-local")
    local.subscribe(b"")
    sync_sub(pub, [only_a], b"A")
    sync_sub(pub, [*alls, local])
    assert _followers(pub) == 3
    msgs = [[b"A%d" % i] if i % 3 else [b"B%d" % i, b"more"] for i in range(900)]
    for m in msgs:
        pub.send_multipart(m)
    for s in [*alls, local]:
        assert [s.recv_multipart() for _ in msgs] == msgs
    assert [only_a.recv_multipart() for _ in range(600)] == [m for m in msgs if m[0][:1] == b"A"]
    assert recv_or_none(only_a, 50) is None


def test_leaving_and_rejoining_the_log_keeps_order(ctx, transport, ipc_dir):
    """A SUB that drops its subscription to everything but keeps a topic, and then takes
    everything again, gets exactly what it subscribed to at each moment, in order."""
    pub = make(ctx, zmq.PUB, sndhwm=0)  # bursts without reading: nothing may drop here
    ep = bind(pub, transport, ipc_dir)
    sub, other = make(ctx, zmq.SUB, rcvhwm=0), make(ctx, zmq.SUB, rcvhwm=0)
    for s in (sub, other):
        s.connect(ep)
        s.subscribe(b"")
    sub.subscribe(b"A")
    sync_sub(pub, [sub, other])
    assert _followers(pub) == 2
    n = 0

    def burst(count: int) -> list[bytes]:
        nonlocal n
        out = []
        for _ in range(count):
            m = (b"A" if n % 2 else b"B") + b"%d" % n
            n += 1
            pub.send(m)
            out.append(m)
        return out

    want = burst(500)
    sub.unsubscribe(b"")
    # Subscriptions travel asynchronously: publish until the PUB has applied it.
    deadline = time.monotonic() + 10
    while _followers(pub) != 1:
        assert time.monotonic() < deadline
        want += burst(1)
    after = burst(500)
    want += [m for m in after if m[:1] == b"A"]
    sub.subscribe(b"")
    while _followers(pub) != 2:
        assert time.monotonic() < deadline
        m = burst(1)
        want += [x for x in m if x[:1] == b"A"]  # until it is applied, as libzmq
    want += burst(500)
    got = []
    sub.rcvtimeo = 300  # (poll may report a message the SUB's own filter then drops)
    try:
        while True:
            got.append(sub.recv())
    except zmq.Again:
        pass
    # Messages published while the subscription travelled may or may not have matched it.
    assert got[:500] == want[:500]
    assert got == sorted(got, key=lambda m: int(m[1:]))
    assert got[-500:] == want[-500:]
    assert not set(got) & {m for m in after if m[:1] == b"B"}
    assert {m for m in got if m[:1] == b"A"} >= {m for m in want if m[:1] == b"A"}
    assert [other.recv() for _ in range(n)] == [
        (b"A" if i % 2 else b"B") + b"%d" % i for i in range(n)
    ]


def test_nodrop_publisher_waits_for_the_slowest_subscriber(ctx, transport, ipc_dir):
    pub, slow, fast = _slow_and_fast(ctx, transport, ipc_dir, 50, xpub_nodrop=1)
    pub.sndtimeo = 0
    body = b"." * 1000
    sent = 0
    fast_got = 0
    deadline = time.monotonic() + 20
    while True:
        assert time.monotonic() < deadline, "the publisher never reached the mark"
        try:
            pub.send(b"%08d" % sent + body)
        except zmq.Again:
            break
        sent += 1
        while recv_or_none(fast, 0) is not None:
            fast_got += 1
    assert 50 <= sent < 5000
    # The slow one reads now: the publisher may go on, and nothing was lost.
    pub.sndtimeo = 5000
    got = []
    for i in range(sent, sent + 300):
        pub.send(b"%08d" % i + body)
        while (m := recv_or_none(slow, 0)) is not None:
            got.append(int(m[0][:8]))
    while (m := recv_or_none(slow, 200)) is not None:
        got.append(int(m[0][:8]))
    assert got == list(range(sent + 300))
    while (m := recv_or_none(fast, 200)) is not None:
        fast_got += 1
    assert fast_got == sent + 300


def test_linger_delivers_what_the_log_holds(ctx, transport, ipc_dir):
    pub = make(ctx, zmq.PUB, linger=5000)
    ep = bind(pub, transport, ipc_dir)
    subs = [make(ctx, zmq.SUB) for _ in range(2)]
    for s in subs:
        s.connect(ep)
        s.subscribe(b"")
    sync_sub(pub, subs)
    assert _followers(pub) == 2
    msgs = _numbered(800)
    for m in msgs:
        pub.send(m)
    pub.close()
    _each_gets(subs, msgs)


def test_a_disconnected_follower_is_forgotten(ctx, transport, ipc_dir):
    pub = make(ctx, zmq.PUB)
    pub.setsockopt(zmq.XPUB_NODROP, 1)
    ep = bind(pub, transport, ipc_dir)
    gone, stays = make(ctx, zmq.SUB), make(ctx, zmq.SUB)
    for s in (gone, stays):
        s.connect(ep)
        s.subscribe(b"")
    sync_sub(pub, [gone, stays])
    assert _followers(pub) == 2
    gone.close(linger=0)
    deadline = time.monotonic() + 10
    while _followers(pub) != 1:
        assert time.monotonic() < deadline
        pub.send(b"tick")
        while recv_or_none(stays, 0) is not None:
            pass
    # With NODROP, a forgotten follower would block the publisher at its mark.
    got = 0
    for i in range(5000):
        pub.send(b"%d" % i)
        if i % 500 == 499:
            while got <= i:
                m = stays.recv()
                if m != b"tick":  # (late ones from the loop above)
                    assert m == b"%d" % got
                    got += 1
    assert pub.pattern.log.draining == {}


def test_curve_subscribers_keep_their_pipes(ctx):
    pytest.importorskip("nacl")
    pub_key, sec_key = zmq.curve_keypair()
    pub = make(ctx, zmq.PUB)
    pub.curve_server = True
    pub.curve_secretkey = sec_key
    pub.bind("tcp://127.0.0.1:*")
    ep = pub.last_endpoint.decode()
    subs = []
    for _ in range(2):
        s = make(ctx, zmq.SUB)
        s.curve_serverkey = pub_key
        s.curve_publickey, s.curve_secretkey = zmq.curve_keypair()
        s.connect(ep)
        s.subscribe(b"")
        subs.append(s)
    sync_sub(pub, subs)
    assert _followers(pub) == 0
    msgs = _numbered(300)
    for m in msgs:
        pub.send(m)
    _each_gets(subs, msgs)


def test_a_follower_answers_heartbeats_while_idle_and_busy(ctx, transport, ipc_dir):
    """Commands (PONG) still go out when a peer's traffic comes from the log."""
    pub = make(ctx, zmq.PUB)
    ep = bind(pub, transport, ipc_dir)
    subs = [make(ctx, zmq.SUB, heartbeat_ivl=40, heartbeat_timeout=250) for _ in range(2)]
    monitors = []
    for s in subs:
        monitors.append(s.get_monitor_socket(zmq.EVENT_DISCONNECTED))
        s.connect(ep)
        s.subscribe(b"")
    sync_sub(pub, subs)
    assert _followers(pub) == 2
    n = 0
    for _ in range(3):
        time.sleep(0.6)  # idle: only PINGs from the SUBs and the PUB's PONGs
        t_end = time.monotonic() + 0.3
        while time.monotonic() < t_end:  # busy
            pub.send(b"%d" % n)
            n += 1
            time.sleep(0.001)
    for s in subs:
        assert [s.recv() for _ in range(n)] == [b"%d" % i for i in range(n)]
    for m in monitors:
        assert not m.poll(0), "a SUB timed out its heartbeat"
    assert _followers(pub) == 2


def test_a_parked_subscriber_gets_messages_again_once_it_caught_up(ctx, transport, ipc_dir):
    pub, slow, fast = _slow_and_fast(ctx, transport, ipc_dir, 20)
    body = b"." * 1000
    for i in range(3000):  # the slow SUB reads nothing: it is parked at its mark
        pub.send(b"%06d" % i + body)
        if i % 2:
            assert int(fast.recv()[:6]) == i - 1
            assert int(fast.recv()[:6]) == i
    assert _followers(pub) == 1
    first = []
    while (m := recv_or_none(slow, 300)) is not None:
        first.append(int(m[0][:6]))
    assert 0 < len(first) < 3000 and first == sorted(first)
    # Caught up: from the next publish on it follows again and loses nothing.
    later = []
    for i in range(3000, 3200):
        pub.send(b"%06d" % i + body)
        assert int(fast.recv()[:6]) == i
        if (m := recv_or_none(slow, 100)) is not None:
            later.append(int(m[0][:6]))
    while (m := recv_or_none(slow, 300)) is not None:
        later.append(int(m[0][:6]))
    assert _followers(pub) == 2
    assert later == list(range(later[0], 3200)) and later[0] <= 3005


def _blocks() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if o.__class__ is fanout.Block)


def test_a_reader_that_left_keeps_only_its_own_messages_alive():
    log = FanoutLog(0)
    stuck_peer = _peer()
    stuck = _joined(log, stuck_peer)
    other = _joined(log, _peer())
    for i in range(50):
        log.publish(b"%d" % i)
    log.leave(stuck_peer, dropping=True)
    for i in range(50, fanout.BLOCK_MSGS * 10):
        log.publish(b"%d" % i)
        if i % 100 == 0:
            _drain(other)
    _drain(other)
    assert _blocks() <= 4
    assert _drain(stuck) == [b"%d" % i for i in range(50)]


def test_a_stuck_subscriber_does_not_make_the_publisher_grow(ctx, transport, ipc_dir):
    pub, stuck, fast = _slow_and_fast(ctx, transport, ipc_dir, 100)  # stuck never reads
    body = b"." * 1000
    for i in range(20_000):
        pub.send(b"%06d" % i + body)
        if i % 50 == 49:
            for k in range(i - 49, i + 1):
                assert int(fast.recv()[:6]) == k
    # 20 MB went by: the stuck SUB's parked reader holds its own ~100 messages, no more.
    assert _blocks() <= 6


def test_a_connecting_publisher_follows_again_after_a_reconnect(ctx, ipc_dir):
    """The reader belongs to the peer (the session), not to one connection: after the SUB
    at one endpoint is replaced, the new connection reads the log where the old one was."""
    eps = [f"ipc://{ipc_dir}/fan-re-{i}" for i in range(3)]
    subs = []
    for ep in eps:
        s = make(ctx, zmq.SUB)
        s.bind(ep)
        s.subscribe(b"")
        subs.append(s)
    pub = make(ctx, zmq.PUB)
    for ep in eps:
        pub.connect(ep)
    sync_sub(pub, subs)
    assert _followers(pub) == 3
    subs[0].close(linger=0)
    time.sleep(0.1)
    subs[0] = make(ctx, zmq.SUB)
    subs[0].bind(eps[0])
    subs[0].subscribe(b"")
    sync_sub(pub, subs)
    assert _followers(pub) == 3
    msgs = _numbered(500)
    for m in msgs:
        pub.send(m)
    _each_gets(subs, msgs)


def test_a_peer_subscribed_to_all_without_asking_gets_every_message(ctx, transport, ipc_dir):
    """A multicast (pgm) session is attached "subscribed to all" beside the followers of
    the log: it must get every message through its own pipe (Pub.subscribe_all)."""
    pub = make(ctx, zmq.PUB)
    ep = bind(pub, transport, ipc_dir)
    subs = [make(ctx, zmq.SUB) for _ in range(2)]
    for s in subs:
        s.connect(ep)
        s.subscribe(b"")
    sync_sub(pub, subs)
    pub.send(b"before")  # the fast path is armed: every subscriber follows the log
    assert _followers(pub) == 2 and pub.pattern.only_log
    multicast = Peer(Pipe(0), Pipe(0))  # as transports/pgm.py attaches a source session
    multicast.attached = True
    pub.pattern.subscribe_all(multicast)
    for i in range(100):
        pub.send(b"%d" % i)
    assert list(multicast.out.q) == [b"%d" % i for i in range(100)]
    for s in subs:
        assert s.recv() == b"before"
        assert [s.recv() for _ in range(100)] == [b"%d" % i for i in range(100)]


def test_xpub_manual_subscriptions_beside_the_log(ctx, transport, ipc_dir):
    """XPUB_MANUAL: what the application subscribes a peer to changes who gets what, for
    followers of the log and for the others alike."""
    xpub = make(ctx, zmq.XPUB)
    xpub.setsockopt(zmq.XPUB_MANUAL, 1)
    ep = bind(xpub, transport, ipc_dir)
    subs = [make(ctx, zmq.SUB) for _ in range(3)]
    for s, topic in zip(subs, [b"", b"", b"A"]):
        s.connect(ep)
        s.subscribe(topic)
        assert xpub.recv() == b"\x01" + topic  # after it, last_peer is that subscriber
        xpub.setsockopt(zmq.SUBSCRIBE, topic)
        if not topic:
            xpub.send(b"warm")  # a send works out the plan (both follow: the fast path)
    assert _followers(xpub) == 2
    deadline = time.monotonic() + 10
    while True:  # the XPUB sees the manual "A" subscription at once; the SUB may lag
        xpub.send(b"A-sync")
        if recv_or_none(subs[2], 20) is not None:
            break
        assert time.monotonic() < deadline
    for s in subs[:2]:
        while recv_or_none(s, 50) is not None:
            pass
    for i in range(50):
        xpub.send(b"A%d" % i)
        xpub.send(b"B%d" % i)
    assert [subs[2].recv() for _ in range(50)] == [b"A%d" % i for i in range(50)]
    for s in subs[:2]:
        assert [s.recv() for _ in range(100)] == [
            m for i in range(50) for m in (b"A%d" % i, b"B%d" % i)
        ]


def test_sndhwm_set_later_applies_to_the_log(ctx, transport, ipc_dir):
    """Unlike a pipe (whose mark is fixed when it is made, as in libzmq), the shared log
    reads SNDHWM again when it changes: unlimited, a stuck follower no longer blocks a
    NODROP publisher, and it still gets everything once it reads."""
    pub, slow, fast = _slow_and_fast(ctx, transport, ipc_dir, 50, xpub_nodrop=1)
    pub.sndhwm = 0
    pub.sndtimeo = 0
    body = b"." * 1000
    for i in range(3000):  # far past 50 + what the buffers hold
        pub.send(b"%06d" % i + body)
        assert int(fast.recv()[:6]) == i
    assert [int(slow.recv()[:6]) for _ in range(3000)] == list(range(3000))
