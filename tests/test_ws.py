"""ws:// and wss:// between purezmq sockets: endpoints, socket types, mechanisms (NULL,
PLAIN, CURVE), TLS options, the usual options (HWM, heartbeats, reconnect, monitor
events), and hostile peers speaking raw HTTP / WebSocket at a listener."""

from __future__ import annotations

import errno
import socket
import sys
import threading
import time

import pytest

wsproto = pytest.importorskip("wsproto")

from ws_helpers import make_certificates  # noqa: E402
from wsproto import ConnectionType, WSConnection  # noqa: E402
from wsproto.events import (  # noqa: E402
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

import purezmq as zmq  # noqa: E402
from purezmq.utils.monitor import parse_monitor_message  # noqa: E402

pytestmark = pytest.mark.timeout(60)
TIMEO = 5000
WS_UNSPECIFIED = 0x30000000


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


def _sock(ctx, kind, **opts):
    s = ctx.socket(kind)
    s.linger = 0
    s.rcvtimeo = TIMEO
    s.sndtimeo = TIMEO
    for k, v in opts.items():
        setattr(s, k, v)
    return s


def _bind(s, url="ws://127.0.0.1:*/zmq") -> str:
    s.bind(url)
    return s.getsockopt(zmq.LAST_ENDPOINT).decode()


def _events(mon, until, timeout=5.0) -> list[dict]:
    """Monitor events until one of ``until`` (a set of event numbers) arrives."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if mon.poll(100):
            ev = parse_monitor_message(mon.recv_multipart())
            got.append(ev)
            if ev["event"] in until:
                return got
    raise AssertionError(f"none of {until} in {got}")


def _roundtrip(a, b) -> None:
    a.send_multipart([b"ping", b"x" * 300])
    assert b.recv_multipart() == [b"ping", b"x" * 300]


# -- endpoints ----------------------------------------------------------------------------


def test_endpoints_keep_the_path_and_unbind(ctx):
    rep = _sock(ctx, zmq.REP)
    ep = _bind(rep, "ws://127.0.0.1:*/some/path")
    assert ep.startswith("ws://127.0.0.1:") and ep.endswith("/some/path")
    bare = _sock(ctx, zmq.REP)
    ep2 = _bind(bare, "ws://127.0.0.1:0")
    assert ep2.endswith(":" + ep2.rpartition(":")[2]) and ep2.endswith("/")
    req = _sock(ctx, zmq.REQ)
    req.connect(ep2[:-1])  # no path: "/" as well
    req.send(b"q")
    assert bare.recv() == b"q"
    rep.unbind(ep)
    with pytest.raises(zmq.ZMQError):
        rep.unbind(ep)


def test_ipv6_endpoint(ctx):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    a = _sock(ctx, zmq.PAIR, ipv6=1)
    try:
        ep = _bind(a, "ws://[::1]:*/six")
    except zmq.ZMQError:
        pytest.skip("no IPv6 loopback")
    assert ep.startswith("ws://[::1]:") and ep.endswith("/six")
    b = _sock(ctx, zmq.PAIR, ipv6=1)
    b.connect(ep)  # the Host header keeps the brackets
    _roundtrip(b, a)


@pytest.mark.parametrize("url", ["ws://127.0.0.1", "ws://127.0.0.1:port/x", "wss://:5/x",
                                 "ws:///path"])  # fmt: skip
@pytest.mark.parametrize("method", ["bind", "connect"])
def test_malformed_ws_endpoints(ctx, url, method):
    s = _sock(ctx, zmq.PAIR)
    with pytest.raises(zmq.ZMQError) as e:
        getattr(s, method)(url)
    assert e.value.errno in (errno.EINVAL, errno.ENODEV)


def test_unknown_ws_endpoints_are_enoent(ctx):
    s = _sock(ctx, zmq.PAIR)
    for method in ("unbind", "disconnect"):
        with pytest.raises(zmq.ZMQError) as e:
            getattr(s, method)("ws://127.0.0.1:1/x")
        assert e.value.errno == errno.ENOENT


def test_stream_sockets_refuse_ws(ctx):
    s = _sock(ctx, zmq.STREAM)
    with pytest.raises(zmq.ZMQError) as e:
        s.bind("ws://127.0.0.1:*/")
    assert e.value.errno == zmq.ENOCOMPATPROTO


def test_has_ws():
    assert zmq.has("ws") and zmq.has("wss")


def test_without_wsproto_the_error_says_what_to_install(ctx, monkeypatch):
    monkeypatch.setitem(sys.modules, "wsproto", None)  # import wsproto -> ImportError
    assert not zmq.has("ws")
    s = _sock(ctx, zmq.PUB)
    for method in (s.bind, s.connect):
        with pytest.raises(zmq.ZMQError) as e:
            method("ws://127.0.0.1:5555/x")
        assert e.value.errno == zmq.EPROTONOSUPPORT
        assert "purezmq[ws]" in str(e.value)


# -- socket types -------------------------------------------------------------------------

PAIRS = [
    (zmq.REP, zmq.REQ),
    (zmq.ROUTER, zmq.DEALER),
    (zmq.DEALER, zmq.DEALER),
    (zmq.PULL, zmq.PUSH),
    (zmq.PAIR, zmq.PAIR),
]


@pytest.mark.parametrize("server,client", PAIRS)
def test_socket_types_roundtrip(ctx, server, client):
    srv = _sock(ctx, server)
    cli = _sock(ctx, client, routing_id=b"cli")
    cli.connect(_bind(srv))
    cli.send_multipart([b"hello", b"\x00" * 1000])
    got = srv.recv_multipart()
    if server == zmq.ROUTER:
        assert got[0] == b"cli"
        got = got[1:]
    assert got == [b"hello", b"\x00" * 1000]


@pytest.mark.parametrize("pub_kind", [zmq.PUB, zmq.XPUB])
def test_pub_sub_filters_at_the_publisher(ctx, pub_kind):
    pub = _sock(ctx, pub_kind)
    ep = _bind(pub)
    sub = _sock(ctx, zmq.XSUB)  # XSUB: whatever arrives is what the publisher sent
    sub.connect(ep)
    sub.send(b"\x01a")
    if pub_kind == zmq.XPUB:
        assert pub.recv() == b"\x01a"
    else:
        time.sleep(0.3)
    pub.send(b"b: not for you")
    pub.send(b"a: for you")
    assert sub.recv() == b"a: for you"


def test_pub_to_ws_and_tcp_subscribers_at_once(ctx):
    """A PUB's tcp peers share its pre-encoded ZMTP log (plumbing/fanout.py); its ws peers
    must not (they need WebSocket frames): both kinds get every message, intact."""
    pub = _sock(ctx, zmq.PUB, sndhwm=0)
    ws_ep = _bind(pub)
    pub.bind("tcp://127.0.0.1:*")
    tcp_ep = pub.getsockopt(zmq.LAST_ENDPOINT).decode()
    subs = []
    for ep in (ws_ep, ws_ep, tcp_ep, tcp_ep):
        sub = _sock(ctx, zmq.SUB, rcvhwm=0)
        sub.subscribe(b"")
        sub.connect(ep)
        subs.append(sub)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until every subscriber hears the publisher
        pub.send(b"hello?")
        if all(s.poll(50) for s in subs):
            break
    for s in subs:
        while s.poll(200):
            s.recv()
    msgs = [b"m%d" % i + b"." * (i % 300) for i in range(2000)]
    for m in msgs:
        pub.send(m)
    for s in subs:
        assert [s.recv() for _ in msgs] == msgs


@pytest.mark.skipif(not zmq.DRAFT_API, reason="draft socket types")
def test_client_server_use_zws_null(ctx):
    server = _sock(ctx, zmq.SERVER)
    client = _sock(ctx, zmq.CLIENT)
    client.connect(_bind(server))
    client.send(b"hi")
    frame = server.recv(copy=False)
    assert frame.bytes == b"hi"
    server.send(b"re", routing_id=frame.routing_id)
    assert client.recv() == b"re"


@pytest.mark.skipif(not zmq.DRAFT_API, reason="draft socket types")
@pytest.mark.parametrize("server,client", [("GATHER", "SCATTER"), ("CHANNEL", "CHANNEL")])
def test_more_draft_types(ctx, server, client):
    srv = _sock(ctx, getattr(zmq, server))
    cli = _sock(ctx, getattr(zmq, client))
    cli.connect(_bind(srv))
    cli.send(b"draft")
    assert srv.recv() == b"draft"


@pytest.mark.skipif(not zmq.DRAFT_API, reason="draft socket types")
def test_peer_connect_peer(ctx):
    a = _sock(ctx, zmq.PEER)
    b = _sock(ctx, zmq.PEER)
    rid = b.connect_peer(_bind(a))
    b.send(b"to a", routing_id=rid)
    frame = a.recv(copy=False)
    assert frame.bytes == b"to a"
    a.send(b"to b", routing_id=frame.routing_id)
    assert b.recv() == b"to b"


@pytest.mark.skipif(not zmq.DRAFT_API, reason="draft socket types")
def test_radio_dish_join_travels_as_a_command(ctx):
    radio = _sock(ctx, zmq.RADIO)
    dish = _sock(ctx, zmq.DISH)
    dish.join("weather")
    dish.connect(_bind(radio))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        radio.send(b"noise", group="traffic")
        radio.send(b"sunny", group="weather")
        if dish.poll(100):
            break
    msg = dish.recv(copy=False)
    assert (msg.group, msg.bytes) == ("weather", b"sunny")


def test_asyncio_sockets_over_ws():
    import asyncio

    import purezmq.asyncio as zaio

    async def main():
        ctx = zaio.Context()
        rep = ctx.socket(zmq.REP)
        req = ctx.socket(zmq.REQ)
        try:
            rep.bind("ws://127.0.0.1:*/aio")
            req.connect(rep.getsockopt(zmq.LAST_ENDPOINT).decode())
            await req.send_multipart([b"async", b"over ws"])
            got = await rep.recv_multipart()
            await rep.send(b"done")
            return got, await req.recv()
        finally:
            rep.close(linger=0)
            req.close(linger=0)
            ctx.term()

    assert asyncio.run(asyncio.wait_for(main(), 10)) == ([b"async", b"over ws"], b"done")


# -- mechanisms ---------------------------------------------------------------------------


def test_null_with_zap_uses_zws_null_and_can_refuse(ctx):
    """A NULL server with a ZAP domain cannot take the bare ZWS2.0 (no handshake to
    authenticate): it picks ZWS2.0/NULL from the client's offer and asks ZAP."""
    from purezmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(ctx)
    auth.start()
    try:
        auth.deny("127.0.0.1")
        server = _sock(ctx, zmq.REP, zap_domain=b"global")
        mon = server.get_monitor_socket()
        client = _sock(ctx, zmq.REQ)
        client.connect(_bind(server))
        client.send(b"let me in")
        ev = _events(mon, {zmq.EVENT_HANDSHAKE_FAILED_AUTH})[-1]
        assert ev["value"] == 400
        assert server.poll(300) == 0
    finally:
        auth.stop()


def test_plain_with_zap(ctx):
    from purezmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(ctx)
    auth.start()
    try:
        auth.configure_plain(domain="*", passwords={"alice": "secret"})
        server = _sock(ctx, zmq.REP, plain_server=True)
        ep = _bind(server)
        good = _sock(ctx, zmq.REQ, plain_username=b"alice", plain_password=b"secret")
        good.connect(ep)
        good.send(b"let me in")
        assert server.recv() == b"let me in"
        server.send(b"welcome")
        assert good.recv() == b"welcome"
        bad = _sock(ctx, zmq.REQ, plain_username=b"alice", plain_password=b"wrong")
        mon = bad.get_monitor_socket()
        bad.connect(ep)
        evs = _events(mon, {zmq.EVENT_HANDSHAKE_FAILED_AUTH})
        assert evs[-1]["value"] == 400
    finally:
        auth.stop()


def test_curve(ctx):
    pytest.importorskip("nacl")
    spub, ssec = zmq.curve_keypair()
    cpub, csec = zmq.curve_keypair()
    server = _sock(ctx, zmq.ROUTER, curve_server=True, curve_secretkey=ssec)
    ep = _bind(server)
    client = _sock(ctx, zmq.DEALER, curve_serverkey=spub, curve_publickey=cpub,
                   curve_secretkey=csec, routing_id=b"c1")  # fmt: skip
    client.connect(ep)
    client.send_multipart([b"secret", b"y" * 70000])
    assert server.recv_multipart() == [b"c1", b"secret", b"y" * 70000]
    server.send_multipart([b"c1", b"back"])
    assert client.recv() == b"back"
    wrong = _sock(ctx, zmq.DEALER, curve_serverkey=cpub, curve_publickey=cpub,
                  curve_secretkey=csec)  # fmt: skip
    mon = wrong.get_monitor_socket()
    wrong.connect(ep)
    wrong.send(b"nope")
    _events(mon, {zmq.EVENT_DISCONNECTED, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL})
    assert server.poll(300) == 0


# -- wss ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed CA and a server certificate for localhost / 127.0.0.1, made by openssl."""
    return make_certificates(tmp_path_factory.mktemp("wss"))


def _wss_server(ctx, tls_files, kind=zmq.REP):
    s = _sock(ctx, kind)
    s.setsockopt(zmq.WSS_CERT_PEM, tls_files["server.pem"])
    s.setsockopt(zmq.WSS_KEY_PEM, tls_files["server.key"])
    return s, _bind(s, "wss://127.0.0.1:*/secure")


def test_wss_roundtrip_and_hostname_check(ctx, tls_files):
    server, ep = _wss_server(ctx, tls_files)
    assert ep.startswith("wss://127.0.0.1:") and ep.endswith("/secure")
    client = _sock(ctx, zmq.REQ)
    client.setsockopt(zmq.WSS_TRUST_PEM, tls_files["ca.pem"])
    client.connect(ep)
    client.send_multipart([b"over", b"z" * 200000])
    assert server.recv_multipart() == [b"over", b"z" * 200000]
    server.send(b"tls ok")
    assert client.recv() == b"tls ok"
    # By name, with WSS_HOSTNAME naming what the certificate says
    named = _sock(ctx, zmq.REQ)
    named.setsockopt(zmq.WSS_TRUST_PEM, tls_files["ca.pem"])
    named.setsockopt(zmq.WSS_HOSTNAME, b"localhost")
    named.connect(ep)
    named.send(b"by name")
    assert server.recv() == b"by name"
    server.send(b"ok")
    assert named.recv() == b"ok"


@pytest.mark.parametrize("case", ["untrusted", "wrong-hostname"])
def test_wss_refuses_bad_certificates(ctx, tls_files, case):
    server, ep = _wss_server(ctx, tls_files)
    client = _sock(ctx, zmq.REQ)
    if case == "wrong-hostname":
        client.setsockopt(zmq.WSS_TRUST_PEM, tls_files["ca.pem"])
        client.setsockopt(zmq.WSS_HOSTNAME, b"example.org")
    mon = client.get_monitor_socket()
    client.connect(ep)
    ev = _events(mon, {zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL})[-1]
    assert ev["value"] == WS_UNSPECIFIED
    client.send(b"never delivered")
    assert server.poll(300) == 0


def test_wss_bind_needs_a_certificate(ctx):
    s = _sock(ctx, zmq.REP)
    with pytest.raises(zmq.ZMQError) as e:
        s.bind("wss://127.0.0.1:*/")
    assert e.value.errno == zmq.EINVAL


# -- options ------------------------------------------------------------------------------


def test_sndhwm_applies(ctx):
    pull = _sock(ctx, zmq.PULL, rcvhwm=5)
    push = _sock(ctx, zmq.PUSH, sndhwm=5)
    push.connect(_bind(pull))
    push.send(b"first")
    assert pull.recv() == b"first"
    sent = 0
    with pytest.raises(zmq.Again):
        for _ in range(100000):
            push.send(b"m" * 1000, zmq.NOBLOCK)
            sent += 1
    assert 5 <= sent < 100000


def test_monitor_events_and_reconnect(ctx):
    # connect first: the session retries until the ws listener appears
    port = _free_port()
    ep = f"ws://127.0.0.1:{port}/zmq"
    req = _sock(ctx, zmq.REQ, reconnect_ivl=50)
    cmon = req.get_monitor_socket()
    req.connect(ep)
    _events(cmon, {zmq.EVENT_CONNECT_RETRIED})
    rep = _sock(ctx, zmq.REP)
    smon = rep.get_monitor_socket()
    rep.bind(ep)
    evs = _events(smon, {zmq.EVENT_HANDSHAKE_SUCCEEDED})
    assert [e["event"] for e in evs][:1] == [zmq.EVENT_LISTENING]
    assert zmq.EVENT_ACCEPTED in [e["event"] for e in evs]
    assert all(e["endpoint"] == ep.encode() for e in evs)
    evs = _events(cmon, {zmq.EVENT_HANDSHAKE_SUCCEEDED})
    assert zmq.EVENT_CONNECTED in [e["event"] for e in evs]
    req.send(b"after retry")
    assert rep.recv() == b"after retry"
    rep.send(b"ok")
    assert req.recv() == b"ok"
    # the server goes away and comes back: the client reconnects
    rep.close()
    _events(cmon, {zmq.EVENT_DISCONNECTED})
    rep2 = _sock(ctx, zmq.REP)
    rep2.bind(ep)
    req.send(b"again")
    assert rep2.recv() == b"again"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("mechanism", ["bare", "null"])
def test_heartbeats_detect_a_silent_peer(ctx, mechanism):
    """HEARTBEAT_IVL over ws: WebSocket pings (bare ZWS2.0: the ws layer's own; with a
    mechanism: the ZMTP ones, sent as pings).  A raw peer that completes the upgrade and
    then stays silent (not even answering pings) is dropped after HEARTBEAT_TIMEOUT."""
    srv = _sock(ctx, zmq.DEALER, heartbeat_ivl=100, heartbeat_timeout=300)
    mon = srv.get_monitor_socket()
    ep = _bind(srv)
    proto = "ZWS2.0" if mechanism == "bare" else "ZWS2.0/NULL"
    raw, ws = _raw_upgrade(ep, [proto])
    try:
        if mechanism == "bare":
            raw.sendall(ws.send(Message(data=b"\x00")))  # routing id: empty
        else:
            ready = b"\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER"
            raw.sendall(ws.send(Message(data=b"\x02" + ready)))
        _events(mon, {zmq.EVENT_HANDSHAKE_SUCCEEDED})
        pings = 0
        raw.settimeout(0.2)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                data = raw.recv(65536)
            except TimeoutError:
                continue
            if not data:
                break
            ws.receive_data(data)
            pings += sum(isinstance(e, Ping) for e in ws.events())
        assert pings >= 1
        evs = _events(mon, {zmq.EVENT_DISCONNECTED}, timeout=1)
        assert evs[-1]["event"] == zmq.EVENT_DISCONNECTED
    finally:
        raw.close()


def test_heartbeats_keep_a_live_peer(ctx):
    a = _sock(ctx, zmq.PAIR, heartbeat_ivl=100, heartbeat_timeout=600)
    b = _sock(ctx, zmq.PAIR, heartbeat_ivl=100, heartbeat_timeout=600)
    mon = a.get_monitor_socket()
    b.connect(_bind(a))
    _events(mon, {zmq.EVENT_HANDSHAKE_SUCCEEDED})
    time.sleep(2.0)  # several heartbeat timeouts long, with no traffic
    a.send(b"still here")
    assert b.recv() == b"still here"
    events = []
    while mon.poll(0):
        events.append(parse_monitor_message(mon.recv_multipart())["event"])
    assert zmq.EVENT_DISCONNECTED not in events


# -- hostile peers ------------------------------------------------------------------------


def _raw_connect(ep: str) -> socket.socket:
    host, port = ep.split("://")[1].split("/")[0].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    return s


def _read_all(s: socket.socket, limit: float = 5.0) -> bytes:
    s.settimeout(limit)
    chunks = []
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


def _raw_upgrade(ep: str, protocols: list[str], target: str | None = None):
    """A raw WebSocket client past the upgrade: (socket, its wsproto connection)."""
    path = "/" + ep.split("://")[1].partition("/")[2]
    s = _raw_connect(ep)
    ws = WSConnection(ConnectionType.CLIENT)
    s.sendall(ws.send(Request(host="127.0.0.1", target=target or path, subprotocols=protocols)))
    s.settimeout(5)
    while True:
        data = s.recv(65536)
        assert data, "the server closed the connection during the upgrade"
        ws.receive_data(data)
        for ev in ws.events():
            if isinstance(ev, AcceptConnection):
                return s, ws
            if isinstance(ev, RejectConnection):
                raise AssertionError(f"refused: {ev.status_code}")


def _close_code(s: socket.socket, ws: WSConnection) -> int | None:
    """Read until the server closes; the code of its close frame, if it sent one."""
    s.settimeout(5)
    while True:
        try:
            data = s.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return None
        if not data:
            return None
        ws.receive_data(data)
        for ev in ws.events():
            if isinstance(ev, CloseConnection):
                return ev.code


@pytest.fixture
def guarded(ctx):
    """A REP on ws with a monitor, and a well-behaved REQ already talking to it: after each
    hostile case the REQ must still be served (the bad peer harms nobody else)."""
    rep = _sock(ctx, zmq.REP, maxmsgsize=1000)
    mon = rep.get_monitor_socket()
    ep = _bind(rep)
    good = _sock(ctx, zmq.REQ)
    good.connect(ep)
    good.send(b"before")
    assert rep.recv() == b"before"
    rep.send(b"ok")
    assert good.recv() == b"ok"

    def still_fine():
        good.send(b"after")
        assert rep.recv() == b"after"
        rep.send(b"ok")
        assert good.recv() == b"ok"

    _events(mon, {zmq.EVENT_HANDSHAKE_SUCCEEDED})
    return ep, mon, still_fine


def _assert_protocol_failure(mon) -> None:
    ev = _events(mon, {zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL})[-1]
    assert ev["value"] == WS_UNSPECIFIED


def test_plain_http_client_gets_426(guarded):
    ep, mon, still_fine = guarded
    s = _raw_connect(ep)
    s.sendall(b"GET /zmq HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n\r\n")
    reply = _read_all(s)
    s.close()
    assert reply.startswith(b"HTTP/1.1 426 ")
    assert b"Upgrade: websocket" in reply and b"ZWS2.0" in reply
    _assert_protocol_failure(mon)
    still_fine()


@pytest.mark.parametrize(
    "junk",
    [b"\x00\x01\x02 not http\r\n\r\n", b"POST /zmq HTTP/1.1\r\nHost: x\r\n\r\n", b"GET\r\n\r\n",
     b"GET /zmq HTTP/1.1\r\nX-Huge: " + b"a" * 70000 + b"\r\n\r\n"],
)  # fmt: skip
def test_broken_upgrade_gets_400(guarded, junk):
    ep, mon, still_fine = guarded
    s = _raw_connect(ep)
    s.sendall(junk)
    reply = _read_all(s)
    s.close()
    assert reply.startswith(b"HTTP/1.1 400 ")
    _assert_protocol_failure(mon)
    still_fine()


def test_wrong_subprotocol_gets_400(guarded):
    ep, mon, still_fine = guarded
    with pytest.raises(AssertionError, match="refused: 400"):
        _raw_upgrade(ep, ["chat", "ZWS2.0/PLAIN"])
    _assert_protocol_failure(mon)
    still_fine()


def test_wrong_path_gets_404(guarded):
    ep, mon, still_fine = guarded
    with pytest.raises(AssertionError, match="refused: 404"):
        _raw_upgrade(ep, ["ZWS2.0"], target="/elsewhere")
    _assert_protocol_failure(mon)
    still_fine()


@pytest.mark.parametrize(
    "case,code",
    [("oversized", 1009), ("fragmented", 1003), ("text", 1003), ("bad-flags", 1002),
     ("empty", 1002)],
)  # fmt: skip
def test_bad_messages_get_a_close_code(guarded, case, code):
    ep, mon, still_fine = guarded
    s, ws = _raw_upgrade(ep, ["ZWS2.0"])
    s.sendall(ws.send(Message(data=b"\x00")))  # routing id
    if case == "oversized":  # MAXMSGSIZE is 1000 on the guarded REP
        data = ws.send(Message(data=b"\x00\x00" + b"x" * 2000))
    elif case == "fragmented":
        data = ws.send(Message(data=b"\x00\x00ab", message_finished=False))
        data += ws.send(Message(data=b"cd", message_finished=True))
    elif case == "text":
        data = ws.send(TextMessage(data="hello"))
    elif case == "bad-flags":
        data = ws.send(Message(data=b"\x80hello"))
    else:
        data = ws.send(Message(data=b""))
    s.sendall(data)
    assert _close_code(s, ws) == code
    s.close()
    _events(mon, {zmq.EVENT_DISCONNECTED})
    still_fine()


def test_a_good_raw_zws_peer_is_served(ctx):
    """The raw client of the hostile tests, behaving: proof the refusals above are not
    refusals of anything it sends."""
    rep = _sock(ctx, zmq.REP, maxmsgsize=1000)
    ep = _bind(rep)
    s, ws = _raw_upgrade(ep, ["ZWS2.0"])
    s.sendall(ws.send(Message(data=b"\x00raw-id")) + ws.send(Message(data=b"\x01"))
              + ws.send(Message(data=b"\x00raw request")))  # fmt: skip
    assert rep.recv() == b"raw request"
    rep.send(b"echo")
    got = []
    s.settimeout(5)
    while len(got) < 3:
        data = s.recv(65536)
        assert data
        ws.receive_data(data)
        got += [bytes(e.data) for e in ws.events() if isinstance(e, BytesMessage)]
    s.close()
    # the server's routing id (empty), then the reply: envelope delimiter, body
    assert got == [b"\x00", b"\x01", b"\x00echo"]


def test_client_sees_refusals_and_keeps_retrying(ctx):
    """A purezmq client told 404 (another path) reports the failed handshake and retries."""
    rep = _sock(ctx, zmq.REP)
    ep = _bind(rep, "ws://127.0.0.1:*/right")
    req = _sock(ctx, zmq.REQ, reconnect_ivl=50)
    mon = req.get_monitor_socket()
    req.connect(ep.replace("/right", "/wrong"))
    ev = _events(mon, {zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL})[-1]
    assert ev["value"] == WS_UNSPECIFIED
    _events(mon, {zmq.EVENT_CONNECT_RETRIED})
    _events(mon, {zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL})  # again: it keeps trying
    assert rep.poll(100) == 0


def test_zmtp_and_ws_peers_do_not_mix(ctx):
    """A tcp (ZMTP) client at a ws listener and a ws client at a tcp listener: both sides
    refuse (HTTP 400 / a bad HTTP reply), report it, and deliver nothing."""
    ws_rep = _sock(ctx, zmq.REP)
    ws_mon = ws_rep.get_monitor_socket()
    ws_ep = _bind(ws_rep)
    tcp_req = _sock(ctx, zmq.REQ)
    tcp_req.connect("tcp://" + ws_ep.split("://")[1].split("/")[0])
    tcp_req.send(b"zmtp")
    _events(ws_mon, {zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL})

    tcp_rep = _sock(ctx, zmq.REP)
    tcp_rep.bind("tcp://127.0.0.1:*")
    port = tcp_rep.getsockopt(zmq.LAST_ENDPOINT).decode().rsplit(":", 1)[1]
    ws_req = _sock(ctx, zmq.REQ)
    ws_mon2 = ws_req.get_monitor_socket()
    ws_req.connect(f"ws://127.0.0.1:{port}/")
    ws_req.send(b"ws")
    ev = _events(ws_mon2, {zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_DISCONNECTED})[-1]
    assert ev["event"] in (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_DISCONNECTED)
    assert ws_rep.poll(200) == 0 and tcp_rep.poll(200) == 0


def test_slow_upgrade_is_dropped_after_handshake_ivl(ctx):
    rep = _sock(ctx, zmq.REP, handshake_ivl=300)
    mon = rep.get_monitor_socket()
    ep = _bind(rep)
    s = _raw_connect(ep)
    s.sendall(b"GET /zmq HTTP/1.1\r\n")  # and nothing more
    evs = _events(mon, {zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, zmq.EVENT_DISCONNECTED})
    assert evs[-1]["event"] in (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, zmq.EVENT_DISCONNECTED)
    assert _read_all(s, 2) == b""
    s.close()


def test_many_bad_clients_at_once_do_not_block_a_good_one(guarded):
    ep, mon, still_fine = guarded
    socks = []
    for i in range(20):
        s = _raw_connect(ep)
        s.sendall(b"GET / HTTP/1.1\r\n" if i % 2 else b"\xff" * 100)
        socks.append(s)
    threading.Event().wait(0.2)
    still_fine()
    for s in socks:
        s.close()
