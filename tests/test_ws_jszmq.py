"""ws:// interop with jszmq 0.1.2 (npm) in Node.js: a ZWS 2.0 peer nobody here wrote.

Both directions for each pattern jszmq has: purezmq binds and jszmq connects, and the
reverse.  Facts about jszmq this relies on (from reading it): its client offers only the
bare ``ZWS2.0`` subprotocol and its server takes the first one a client offers (so
purezmq offers ``ZWS2.0`` first); its publisher does not filter; its REQ, REP, DEALER and
ROUTER use the usual envelopes.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("wsproto")

from ws_helpers import make_certificates, node_peer  # noqa: E402

import purezmq as zmq  # noqa: E402
from purezmq.utils.monitor import parse_monitor_message  # noqa: E402

pytestmark = pytest.mark.timeout(90)
TIMEO = 10000


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


def _sock(ctx, kind):
    s = ctx.socket(kind)
    s.linger = 0
    s.rcvtimeo = TIMEO
    s.sndtimeo = TIMEO
    return s


def _bind(ctx, kind):
    s = _sock(ctx, kind)
    s.bind("ws://127.0.0.1:*/zeromq")
    return s, s.getsockopt(zmq.LAST_ENDPOINT).decode()


# -- purezmq binds, jszmq connects --------------------------------------------------------


def test_jszmq_req_to_purezmq_rep(ctx):
    rep, ep = _bind(ctx, zmq.REP)
    assert ep.startswith("ws://127.0.0.1:") and ep.endswith("/zeromq")
    with node_peer({"type": "req", "connect": ep, "mode": "req", "count": 3}) as peer:
        for i in range(3):
            assert rep.recv_multipart() == [b"req%d" % i]
            rep.send(b"echo:req%d" % i)
        assert peer.messages() == [[b"echo:req%d" % i] for i in range(3)]


def test_jszmq_sub_to_purezmq_pub_and_xpub_sees_subscriptions(ctx):
    # XPUB: the subscription arrives as a ZWS2.0 "\x01topic" message and becomes ours.
    pub, ep = _bind(ctx, zmq.XPUB)
    with node_peer({"type": "sub", "connect": ep, "subscribe": ["news"], "mode": "recv",
                    "count": 3}) as peer:  # fmt: skip
        assert pub.recv() == b"\x01news"
        for i in range(3):
            pub.send_multipart([b"sports", b"no"])  # filtered here: never reaches jszmq
            pub.send_multipart([b"news", b"item%d" % i])
        assert peer.messages() == [[b"news", b"item%d" % i] for i in range(3)]


def test_jszmq_push_to_purezmq_pull(ctx):
    pull, ep = _bind(ctx, zmq.PULL)
    msgs = [["a", "b"], ["", "x" * 300], ["\x00\xff\x01"]]
    with node_peer({"type": "push", "connect": ep, "mode": "send", "messages": msgs,
                    "repeat": 1, "linger": 500}):  # fmt: skip
        got = [pull.recv_multipart() for _ in msgs]
    assert got == [[f.encode("latin1") for f in m] for m in msgs]


def test_jszmq_dealer_to_purezmq_router(ctx):
    router, ep = _bind(ctx, zmq.ROUTER)
    with node_peer({"type": "dealer", "connect": ep, "routingId": "js-1", "mode": "send",
                    "messages": [["hello"]], "repeat": 1, "linger": 2000}):  # fmt: skip
        ident, body = router.recv_multipart()
        assert (ident, body) == (b"js-1", b"hello")  # its routing id: the first ZWS message


def test_purezmq_router_replies_to_jszmq_dealer(ctx):
    router, ep = _bind(ctx, zmq.ROUTER)
    with node_peer({"type": "dealer", "connect": ep, "mode": "req", "count": 2}) as peer:
        for i in range(2):
            ident, body = router.recv_multipart()
            assert body == b"req%d" % i
            router.send_multipart([ident, b"re:" + body])
        assert peer.messages() == [[b"re:req0"], [b"re:req1"]]


# -- jszmq binds, purezmq connects --------------------------------------------------------


def test_purezmq_req_to_jszmq_rep(ctx):
    with node_peer({"type": "rep", "bind": "ws://127.0.0.1:0/zmq", "mode": "echo", "count": 3,
                    "linger": 300}) as peer:  # fmt: skip
        req = _sock(ctx, zmq.REQ)
        req.connect(f"ws://127.0.0.1:{peer.port()}/zmq")
        for i in range(3):
            req.send_multipart([b"part", b"n%d" % i])
            assert req.recv_multipart() == [b"part", b"echo:n%d" % i]
        assert peer.messages() == [[b"part", b"n%d" % i] for i in range(3)]


def test_purezmq_sub_to_jszmq_pub_filters_itself(ctx):
    # jszmq's publisher sends everything; purezmq's SUB keeps only its topics.
    with node_peer({"type": "pub", "bind": "ws://127.0.0.1:0/feed", "mode": "send",
                    "messages": [["weather", "rain"], ["stocks", "up"]], "interval": 30,
                    "repeat": 0}) as peer:  # fmt: skip
        port = peer.port()
        # What jszmq sends to a subscriber of "stocks" (seen through an XSUB): everything.
        xsub = _sock(ctx, zmq.XSUB)
        xsub.connect(f"ws://127.0.0.1:{port}/feed")
        xsub.send(b"\x01stocks")
        assert {xsub.recv_multipart()[0] for _ in range(6)} == {b"weather", b"stocks"}
        sub = _sock(ctx, zmq.SUB)
        sub.subscribe(b"stocks")
        sub.connect(f"ws://127.0.0.1:{port}/feed")
        got = [sub.recv_multipart() for _ in range(5)]
    assert got == [[b"stocks", b"up"]] * 5


def test_purezmq_push_to_jszmq_pull(ctx):
    with node_peer({"type": "pull", "bind": "ws://127.0.0.1:0/", "mode": "recv",
                    "count": 3}) as peer:  # fmt: skip
        push = _sock(ctx, zmq.PUSH)
        push.connect(f"ws://127.0.0.1:{peer.port()}")  # no path: "/"
        for i in range(3):
            push.send_multipart([b"job", b"%d" % i, b"y" * 70000])
        got = peer.messages()
    assert got == [[b"job", b"%d" % i, b"y" * 70000] for i in range(3)]


def test_purezmq_dealer_to_jszmq_router(ctx):
    with node_peer({"type": "router", "bind": "ws://127.0.0.1:0/r", "mode": "echo",
                    "count": 2, "linger": 300}) as peer:  # fmt: skip
        dealer = _sock(ctx, zmq.DEALER)
        dealer.routing_id = b"py-dealer"
        dealer.connect(f"ws://127.0.0.1:{peer.port()}/r")
        for i in range(2):
            dealer.send(b"m%d" % i)
            assert dealer.recv_multipart() == [b"echo:m%d" % i]
        got = peer.messages()
    # jszmq's ROUTER names a peer by 0x00 + the routing id it sent first.
    assert got == [[b"\x00py-dealer", b"m%d" % i] for i in range(2)]


def test_purezmq_reconnects_to_a_restarted_jszmq_server(ctx):
    spec = {"type": "rep", "bind": "ws://127.0.0.1:0/zmq", "mode": "echo", "count": 1,
            "linger": 100}  # fmt: skip
    req = _sock(ctx, zmq.REQ)
    req.setsockopt(zmq.REQ_RELAXED, 1)
    req.reconnect_ivl = 50
    mon = req.get_monitor_socket()
    with node_peer(spec) as peer:
        port = peer.port()
        req.connect(f"ws://127.0.0.1:{port}/zmq")
        req.send(b"one")
        assert req.recv() == b"echo:one"
        peer.messages()
    spec["bind"] = f"ws://127.0.0.1:{port}/zmq"
    events = []
    deadline = time.monotonic() + 10
    while zmq.EVENT_DISCONNECTED not in events and time.monotonic() < deadline:
        if mon.poll(200):
            events.append(parse_monitor_message(mon.recv_multipart())["event"])
    assert zmq.EVENT_DISCONNECTED in events
    with node_peer(spec) as peer:
        assert peer.port() == port
        req.send(b"two")
        assert req.recv() == b"echo:two"


# -- what jszmq cannot do is refused clearly ----------------------------------------------


def test_jszmq_against_a_plain_server_is_refused(ctx):
    """jszmq offers only the bare ZWS2.0; a PLAIN server answers 400 and reports it."""
    rep = _sock(ctx, zmq.REP)
    rep.plain_server = True
    mon = rep.get_monitor_socket()
    rep.bind("ws://127.0.0.1:*/zeromq")
    ep = rep.getsockopt(zmq.LAST_ENDPOINT).decode()
    with node_peer({"type": "req", "connect": ep, "mode": "req", "count": 1, "timeout": 3000}):
        deadline = time.monotonic() + 10
        events = []
        while time.monotonic() < deadline:
            if mon.poll(200):
                ev = parse_monitor_message(mon.recv_multipart())
                events.append((ev["event"], ev["value"]))
                if ev["event"] == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                    break
        assert (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, 0x30000000) in events
        assert rep.poll(200) == 0


# -- wss: jszmq in Node trusting our test CA ----------------------------------------------


def test_jszmq_req_over_wss(ctx, tmp_path):
    certs = make_certificates(tmp_path)
    rep = _sock(ctx, zmq.REP)
    rep.setsockopt(zmq.WSS_CERT_PEM, certs["server.pem"])
    rep.setsockopt(zmq.WSS_KEY_PEM, certs["server.key"])
    rep.bind("wss://127.0.0.1:*/secure")
    ep = rep.getsockopt(zmq.LAST_ENDPOINT).decode()
    env = {"NODE_EXTRA_CA_CERTS": str(tmp_path / "ca.pem")}
    with node_peer({"type": "req", "connect": ep, "mode": "req", "count": 2}, env) as peer:
        for i in range(2):
            assert rep.recv() == b"req%d" % i
            rep.send(b"secure:req%d" % i)
        assert peer.messages() == [[b"secure:req0"], [b"secure:req1"]]
