"""ws:// interop with libzmq's own (draft) ws transport, both directions (opt-in).

Debian's libzmq5 and pyzmq's wheels are built without ws, so this runs only when
``PUREZMQ_WS_LIBZMQ`` names a libzmq built with it (see tests/ws_helpers/libzmq_ws.py).
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("wsproto")

from ws_helpers import libzmq_ws as L  # noqa: E402

import purezmq as zmq  # noqa: E402

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def lib():
    return L.load()


@pytest.fixture
def both(lib):
    lctx = lib.zmq_ctx_new()
    zap = L.zap_handler(lib, lctx)
    zap.__enter__()
    pctx = zmq.Context()
    socks: list = []

    def lsock(kind):
        s = L.Socket(lib, lctx, kind)
        socks.append(s)
        return s

    def psock(kind, **opts):
        s = pctx.socket(kind)
        s.linger = 0
        s.rcvtimeo = 5000
        for k, v in opts.items():
            setattr(s, k, v)
        return s

    psock.ctx = pctx
    yield lsock, psock
    for s in socks:
        s.close()
    zap.__exit__(None, None, None)
    lib.zmq_ctx_term(lctx)
    pctx.destroy(linger=0)


@pytest.mark.parametrize("direction", ["libzmq-binds", "purezmq-binds"])
def test_req_rep(both, direction):
    lsock, psock = both
    if direction == "libzmq-binds":
        rep = lsock(L.REP)
        ep = rep.bind("ws://127.0.0.1:*/zmq")
        req = psock(zmq.REQ)
        req.connect(ep)
        req.send_multipart([b"hello", b"x" * 300])
        assert rep.recv_multipart() == [b"hello", b"x" * 300]
        rep.send_multipart([b"world"])
        assert req.recv_multipart() == [b"world"]
    else:
        rep = psock(zmq.REP)
        rep.bind("ws://127.0.0.1:*/zmq")
        req = lsock(L.REQ)
        req.connect(rep.last_endpoint.decode())
        req.send_multipart([b"hello", b"y" * 70000])
        assert rep.recv_multipart() == [b"hello", b"y" * 70000]
        rep.send(b"world")
        assert req.recv_multipart() == [b"world"]


@pytest.mark.parametrize("direction", ["libzmq-pub", "purezmq-pub"])
def test_pub_sub_subscriptions(both, direction):
    lsock, psock = both
    if direction == "libzmq-pub":
        pub = lsock(L.PUB)
        ep = pub.bind("ws://127.0.0.1:*/feed")
        sub = psock(zmq.SUB)
        sub.subscribe(b"yes")
        sub.connect(ep)
        send = pub.send_multipart
    else:
        pub = psock(zmq.PUB)
        pub.bind("ws://127.0.0.1:*/feed")
        sub = lsock(L.SUB)
        sub.setbytes(L.SUBSCRIBE, b"yes")
        sub.connect(pub.last_endpoint.decode())
        send = pub.send_multipart
    deadline = time.monotonic() + 5
    got = None
    while got is None and time.monotonic() < deadline:
        send([b"no", b"skip"])
        send([b"yes", b"take"])
        if direction == "libzmq-pub":
            if sub.poll(100):
                got = sub.recv_multipart()
        else:
            sub.setint(L.RCVTIMEO, 100)
            try:
                got = sub.recv_multipart()
            except AssertionError:
                pass
    assert got == [b"yes", b"take"]


def test_dealer_router_identities(both):
    lsock, psock = both
    router = lsock(L.ROUTER)
    ep = router.bind("ws://127.0.0.1:*/r")
    dealer = psock(zmq.DEALER, routing_id=b"pz")
    dealer.connect(ep)
    dealer.send(b"hi")
    assert router.recv_multipart() == [b"pz", b"hi"]
    router.send_multipart([b"pz", b"back"])
    assert dealer.recv() == b"back"


@pytest.mark.parametrize("who_binds", ["libzmq", "purezmq"])
def test_plain(both, who_binds):
    lsock, psock = both
    if who_binds == "libzmq":
        server = lsock(L.REP)
        server.setint(L.PLAIN_SERVER, 1)
        ep = server.bind("ws://127.0.0.1:*/p")
        client = psock(zmq.REQ, plain_username=b"u", plain_password=b"p")
        client.connect(ep)
        client.send(b"plain")
        assert server.recv_multipart() == [b"plain"]
        server.send_multipart([b"ok"])
        assert client.recv() == b"ok"
    else:
        from purezmq.auth.thread import ThreadAuthenticator

        auth = ThreadAuthenticator(psock.ctx)  # PLAIN servers need a ZAP handler (as libzmq)
        auth.start()
        try:
            auth.configure_plain(domain="*", passwords={"u": "p"})
            server = psock(zmq.REP, plain_server=True)
            server.bind("ws://127.0.0.1:*/p")
            client = lsock(L.REQ)
            client.setbytes(L.PLAIN_USERNAME, b"u")
            client.setbytes(L.PLAIN_PASSWORD, b"p")
            client.connect(server.last_endpoint.decode())
            client.send_multipart([b"plain"])
            assert server.recv() == b"plain"
            server.send(b"ok")
            assert client.recv_multipart() == [b"ok"]
        finally:
            auth.stop()


@pytest.mark.parametrize("who_binds", ["libzmq", "purezmq"])
def test_curve(both, who_binds):
    pytest.importorskip("nacl")
    lsock, psock = both
    if not L.load().zmq_has(b"curve"):
        pytest.skip("that libzmq has no CURVE")
    spub, ssec = zmq.curve_keypair()
    cpub, csec = zmq.curve_keypair()
    if who_binds == "libzmq":
        server = lsock(L.REP)
        server.setint(L.CURVE_SERVER, 1)
        server.setbytes(L.CURVE_SECRETKEY, ssec)
        ep = server.bind("ws://127.0.0.1:*/c")
        client = psock(zmq.REQ, curve_serverkey=spub, curve_publickey=cpub,
                       curve_secretkey=csec)  # fmt: skip
        client.connect(ep)
        client.send(b"curve")
        assert server.recv_multipart() == [b"curve"]
        server.send_multipart([b"ok"])
        assert client.recv() == b"ok"
    else:
        server = psock(zmq.REP, curve_server=True, curve_secretkey=ssec)
        server.bind("ws://127.0.0.1:*/c")
        client = lsock(L.REQ)
        client.setbytes(L.CURVE_SERVERKEY, spub)
        client.setbytes(L.CURVE_PUBLICKEY, cpub)
        client.setbytes(L.CURVE_SECRETKEY, csec)
        client.connect(server.last_endpoint.decode())
        client.send_multipart([b"curve"])
        assert server.recv() == b"curve"
        server.send(b"ok")
        assert client.recv_multipart() == [b"ok"]


@pytest.mark.parametrize("who_binds", ["libzmq", "purezmq"])
def test_heartbeats_keep_the_connection(both, who_binds):
    """Heartbeats on both sides, no traffic for many timeouts: nobody drops the other."""
    lsock, psock = both
    if who_binds == "libzmq":
        a = lsock(L.DEALER)
        a.setint(L.HEARTBEAT_IVL, 100)
        a.setint(L.HEARTBEAT_TIMEOUT, 500)
        ep = a.bind("ws://127.0.0.1:*/hb")
        b = psock(zmq.DEALER, heartbeat_ivl=100, heartbeat_timeout=500)
        mon = b.get_monitor_socket()
        b.connect(ep)
    else:
        b = psock(zmq.DEALER, heartbeat_ivl=100, heartbeat_timeout=500)
        mon = b.get_monitor_socket()
        b.bind("ws://127.0.0.1:*/hb")
        a = lsock(L.DEALER)
        a.setint(L.HEARTBEAT_IVL, 100)
        a.setint(L.HEARTBEAT_TIMEOUT, 500)
        a.connect(b.last_endpoint.decode())
    b.send(b"first")
    assert a.recv_multipart() == [b"first"]
    time.sleep(2.0)
    from purezmq.utils.monitor import parse_monitor_message

    events = []
    while mon.poll(0):
        events.append(parse_monitor_message(mon.recv_multipart())["event"])
    assert zmq.EVENT_DISCONNECTED not in events, events
    a.send_multipart([b"second"])
    assert b.recv() == b"second"
