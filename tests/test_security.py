"""PLAIN and CURVE over real sockets: socket options, ZAP end to end, interop with libzmq.

The wire tests run one *side* in this process (purezmq) and the other in a child process
running pyzmq (libzmq 4.3), so neither library shares a context, a thread or a GIL with the
other.  Both sides run the same scenario code (``PRELUDE``) with their own ``zmq``, so a test
reads "make a server here, a client there" and is parametrised over which library serves.
The expected monitor events and values are libzmq's (measured against pyzmq 27 / libzmq
4.3.5; the table is in ``REFUSALS``).
"""

from __future__ import annotations

import os
import pickle
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import purezmq
from purezmq.auth import CURVE_ALLOW_ANY, create_certificates, load_certificate
from purezmq.auth.thread import ThreadAuthenticator
from purezmq.utils import z85

zmq = pytest.importorskip("zmq")  # pyzmq: the reference

pytestmark = pytest.mark.timeout(60)

try:
    import nacl.bindings  # noqa: F401

    HAVE_NACL = True
except ImportError:  # pragma: no cover - PyNaCl is a test dependency
    HAVE_NACL = False
needs_curve = pytest.mark.skipif(
    not HAVE_NACL or not zmq.has("curve"), reason="CURVE needs PyNaCl and a libzmq with CURVE"
)

EPIPE, EFAULT, ECONNRESET = 32, 14, 104
MECHANISM_MISMATCH = purezmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
CRYPTOGRAPHIC = purezmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
UNEXPECTED_COMMAND = purezmq.PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND
AUTH = int(purezmq.EVENT_HANDSHAKE_FAILED_AUTH)
PROTOCOL = int(purezmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
NO_DETAIL = int(purezmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
SUCCEEDED = int(purezmq.EVENT_HANDSHAKE_SUCCEEDED)
BIG = random.Random(6).randbytes(1 << 20)

# -- sides -------------------------------------------------------------------------------------
# Scenario code both sides run, each with its own ``zmq`` (purezmq here, pyzmq in the peer).
PRELUDE = r'''
import struct, time

ctx = None
auths = []
socks = {}


def reset():
    global ctx
    for a in auths:
        a.stop()
    auths.clear()
    if ctx is not None:
        ctx.destroy(0)
    ctx = zmq.Context()
    socks.clear()


def _timeouts(s):
    s.linger = 0
    s.rcvtimeo = 5000
    s.sndtimeo = 5000


def authenticator(passwords=None, certs=None, allow=None, deny=None, curve=True):
    a = ThreadAuthenticator(ctx)
    a.start()
    auths.append(a)
    if allow:
        a.allow(*allow)
    if deny:
        a.deny(*deny)
    if passwords:
        a.configure_plain("*", passwords)
    if curve:
        a.configure_curve("*", certs or CURVE_ALLOW_ANY)
    return a


def server(name, mech, secret=None, sock_type=None, domain=None, enforce=False, rid=None):
    s = ctx.socket(sock_type or zmq.ROUTER)
    _timeouts(s)
    if rid:
        s.routing_id = rid
    socks[name + ".mon"] = s.get_monitor_socket()
    if domain:
        s.zap_domain = domain
    if enforce:
        s.zap_enforce_domain = 1
    if mech == "PLAIN":
        s.plain_server = True
    elif mech == "CURVE":
        s.curve_server = True
        s.curve_secretkey = secret
    socks[name] = s
    return s.bind_to_random_port("tcp://127.0.0.1")


def client(name, mech, port, user=b"admin", password=b"secret", server_key=None,
           public=None, secret=None, sock_type=None, rid=None):
    c = ctx.socket(sock_type or zmq.DEALER)
    _timeouts(c)
    if rid:
        c.routing_id = rid
    socks[name + ".mon"] = c.get_monitor_socket()
    if mech == "PLAIN":
        c.plain_username = user
        c.plain_password = password
    elif mech == "CURVE":
        c.curve_serverkey = server_key
        c.curve_publickey = public
        c.curve_secretkey = secret
    c.connect("tcp://127.0.0.1:%d" % port)
    socks[name] = c


def _pump(name, timeout):
    log = socks.setdefault(name + ".log", [])
    mon = socks[name + ".mon"]
    if mon.poll(max(1, int(timeout * 1000))):
        while True:
            data = mon.recv_multipart()
            log.append(struct.unpack("<HI", data[0][:6]))
            if not mon.poll(0):
                break
    return log


def wait_event(name, event, timeout=5.0):
    """The value of the first ``event`` the socket's monitor reported (waiting for it)."""
    deadline = time.monotonic() + timeout
    while True:
        log = _pump(name, 0)
        for ev, value in log:
            if ev == event:
                return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("%s: no event %d in %r" % (name, event, log))
        _pump(name, min(remaining, 0.1))


def wait_any(name, wanted, timeout=5.0):
    """The first (event, value) the monitor reported among ``wanted`` events."""
    deadline = time.monotonic() + timeout
    while True:
        log = _pump(name, 0)
        for ev, value in log:
            if ev in wanted:
                return ev, value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("%s: none of %r in %r" % (name, wanted, log))
        _pump(name, min(remaining, 0.1))


def events(name, settle=0.2):
    return list(_pump(name, settle))


def recv_props(name, *props):
    frames = socks[name].recv_multipart(copy=False)
    return [bytes(f) for f in frames], {p: frames[-1].get(p) for p in props}


class OnlyKey:
    """A credentials provider accepting one Z85 key."""

    def __init__(self, key):
        self.key = key

    def callback(self, domain, key):
        return key == self.key


def missing_prop(name, prop):
    """True if the next message carries no ``prop`` (Frame.get raises)."""
    frames = socks[name].recv_multipart(copy=False)
    try:
        frames[-1].get(prop)
    except zmq.ZMQError:
        return True
    return False
'''

# The pyzmq peer: runs ``exec`` / ``eval`` requests in one namespace, answers over a pipe.
PEER_MAIN = r"""
import pickle, struct, sys, traceback
out = sys.stdout.buffer
sys.stdout = sys.stderr
import zmq
from zmq.auth import CURVE_ALLOW_ANY, create_certificates, load_certificate
from zmq.auth.thread import ThreadAuthenticator
ns = {"zmq": zmq, "ThreadAuthenticator": ThreadAuthenticator,
      "CURVE_ALLOW_ANY": CURVE_ALLOW_ANY, "create_certificates": create_certificates,
      "load_certificate": load_certificate, "LIB": "pyzmq"}
L = struct.Struct("<Q")
inp = sys.stdin.buffer
while True:
    head = inp.read(8)
    if len(head) < 8:
        break
    op, code, env = pickle.loads(inp.read(L.unpack(head)[0]))
    ns.update(env)
    try:
        if op == "exec":
            exec(code, ns)
            reply = ("ok", None)
        else:
            reply = ("ok", eval(code, ns))
    except BaseException:
        reply = ("err", traceback.format_exc())
    data = pickle.dumps(reply)
    out.write(L.pack(len(data)) + data)
    out.flush()
"""
_LEN = struct.Struct("<Q")


class LocalSide:
    """purezmq, in this process."""

    lib = "purezmq"

    def __init__(self) -> None:
        self.ns = {
            "zmq": purezmq,
            "ThreadAuthenticator": ThreadAuthenticator,
            "CURVE_ALLOW_ANY": CURVE_ALLOW_ANY,
            "create_certificates": create_certificates,
            "load_certificate": load_certificate,
            "LIB": "purezmq",
        }
        exec(PRELUDE, self.ns)

    def exec(self, code: str, timeout: float = 20.0, **env) -> None:
        self.ns.update(env)
        exec(code, self.ns)

    def eval(self, expr: str, timeout: float = 20.0, **env):
        self.ns.update(env)
        return eval(expr, self.ns)


class PeerSide:
    """pyzmq, in a child process."""

    lib = "pyzmq"

    def __init__(self) -> None:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)  # "zmq" must be pyzmq; purezmq is not needed there
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PEER_MAIN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=str(Path(__file__).resolve().parent),
        )
        self.exec(PRELUDE)

    def _read(self, n: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        chunks = []
        while n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the pyzmq peer did not answer in time")
            if not select.select([fd], [], [], remaining)[0]:
                continue
            chunk = os.read(fd, n)
            if not chunk:
                raise EOFError(f"the pyzmq peer exited (rc={self.proc.poll()})")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _rpc(self, op: str, code: str, env: dict, timeout: float):
        data = pickle.dumps((op, code, env))
        self.proc.stdin.write(_LEN.pack(len(data)) + data)
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        (n,) = _LEN.unpack(self._read(_LEN.size, deadline))
        status, value = pickle.loads(self._read(n, deadline))
        if status != "ok":
            raise AssertionError(f"pyzmq peer failed:\n{value}")
        return value

    def exec(self, code: str, timeout: float = 20.0, **env) -> None:
        self._rpc("exec", code, env, timeout)

    def eval(self, expr: str, timeout: float = 20.0, **env):
        return self._rpc("eval", expr, env, timeout)

    def close(self) -> None:
        try:
            self.exec("reset(); ctx.destroy(0)", timeout=10)
        except Exception:
            pass
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def peer_process():
    peer = PeerSide()
    yield peer
    peer.close()


@pytest.fixture
def pure():
    side = LocalSide()
    side.exec("reset()")
    yield side
    side.exec("reset(); ctx.destroy(0)")


@pytest.fixture
def peer(peer_process):
    if peer_process.proc.poll() is not None:
        pytest.fail("the pyzmq peer died")
    peer_process.exec("reset()")
    yield peer_process
    peer_process.exec("reset()")


@pytest.fixture(params=["purezmq-serves", "pyzmq-serves"])
def roles(request, pure, peer):
    """(server side, client side): each library in each role."""
    return (pure, peer) if request.param == "purezmq-serves" else (peer, pure)


class Keys:
    def __init__(self) -> None:
        if not HAVE_NACL:  # (PyPy) only CURVE uses keys, and CURVE tests skip without it
            self.server_public = self.server_secret = self.client_public = None
            self.client_secret = self.other_public = self.other_secret = None
            return
        self.server_public, self.server_secret = purezmq.curve_keypair()
        self.client_public, self.client_secret = purezmq.curve_keypair()
        self.other_public, self.other_secret = purezmq.curve_keypair()

    def client(self, **kw) -> dict:
        out = {
            "server_key": self.server_public,
            "public": self.client_public,
            "secret": self.client_secret,
        }
        out.update(kw)
        return out


def exchange(srv, cli, server="srv", client="cli", user_id: str | None = None) -> None:
    """A multipart message with a 1 MiB frame each way, then a burst of small ones."""
    cli.exec(f"socks[{client!r}].send_multipart([b'hello', BIG])", BIG=BIG)
    props = ("Peer-Address", "Socket-Type") + (("User-Id",) if user_id is not None else ())
    frames, got = srv.eval(f"recv_props({server!r}, *props)", props=props)
    rid = frames[0]
    assert frames[1:] == [b"hello", BIG]
    assert got["Peer-Address"] == "127.0.0.1"
    assert got["Socket-Type"] == "DEALER"
    if user_id is not None:
        assert got["User-Id"] == user_id
    srv.exec(f"socks[{server!r}].send_multipart([rid, b'back', BIG, b''])", rid=rid, BIG=BIG)
    assert cli.eval(f"socks[{client!r}].recv_multipart()") == [b"back", BIG, b""]
    cli.exec(
        f"for i in range(200): socks[{client!r}].send_multipart([b'%d' % i, b'x' * (i % 7)])"
    )
    got = srv.eval(f"[socks[{server!r}].recv_multipart()[1:] for i in range(200)]")
    assert got == [[b"%d" % i, b"x" * (i % 7)] for i in range(200)]


# -- interop: handshakes and traffic -------------------------------------------------------------
def test_plain_with_zap(roles) -> None:
    srv, cli = roles
    srv.exec("authenticator(passwords={'admin': 'secret'}, curve=False)")
    port = srv.eval("server('srv', 'PLAIN')")
    assert srv.eval("socks['srv'].mechanism") == zmq.PLAIN
    cli.exec("client('cli', 'PLAIN', port)", port=port)
    assert cli.eval("socks['cli'].mechanism") == zmq.PLAIN
    exchange(srv, cli, user_id="admin")
    assert srv.eval(f"wait_event('srv', {SUCCEEDED})") == 0
    assert cli.eval(f"wait_event('cli', {SUCCEEDED})") == 0


@needs_curve
@pytest.mark.parametrize("zap", [True, False], ids=["zap", "stonehouse"])
def test_curve(roles, zap: bool) -> None:
    srv, cli = roles
    keys = Keys()
    if zap:
        srv.exec("authenticator()")
    port = srv.eval("server('srv', 'CURVE', secret=k)", k=keys.server_secret)
    cli.exec("client('cli', 'CURVE', port, **kw)", port=port, kw=keys.client())
    # With ZAP, the User-Id is the client's key in Z85 (Authenticator.curve_user_id).
    exchange(srv, cli, user_id=keys.client_public.decode() if zap else None)
    if not zap:  # no ZAP, no User-Id: Frame.get refuses it, in both libraries
        cli.exec("socks['cli'].send(b'x')")
        assert srv.eval("missing_prop('srv', 'User-Id')")


@needs_curve
def test_curve_keys_in_every_form(roles) -> None:
    """Binary, Z85 and Z85 with its NUL, through setsockopt, _string and attributes."""
    srv, cli = roles
    keys = Keys()
    srv.exec("authenticator()")
    port = srv.eval("server('srv', 'CURVE', secret=k)", k=z85.decode(keys.server_secret))
    cli.exec(
        "c = ctx.socket(zmq.DEALER); _timeouts(c); socks['cli'] = c\n"
        "c.setsockopt(zmq.CURVE_SERVERKEY, spub + b'\\0')\n"
        "c.setsockopt_string(zmq.CURVE_PUBLICKEY, cpub.decode())\n"
        "c.curve_secretkey = csec_bin\n"
        "c.connect('tcp://127.0.0.1:%d' % port)",
        spub=keys.server_public,
        cpub=keys.client_public,
        csec_bin=z85.decode(keys.client_secret),
        port=port,
    )
    exchange(srv, cli, user_id=keys.client_public.decode())


def test_null_with_zap_domain(roles) -> None:
    """A NULL server with a ZAP domain asks ZAP too (address checks)."""
    srv, cli = roles
    srv.exec("authenticator(allow=['127.0.0.1'], curve=False)")
    port = srv.eval("server('srv', 'NULL', domain=b'global')")
    cli.exec("client('cli', 'NULL', port)", port=port)
    exchange(srv, cli, user_id="anonymous")


# -- interop: refusals ---------------------------------------------------------------------------
# name: (mechanism, authenticator kwargs or None, server kwargs, bad client kwargs,
#        server event, client event by client library, a good client can get in)
REFUSALS = {
    "wrong-password": (
        "PLAIN", {"passwords": {"admin": "secret"}, "curve": False}, {}, {"password": b"nope"},
        (AUTH, 400),
        # libzmq's PLAIN ERROR is "^RROR" (a C escape bug); purezmq reads it as ERROR, but
        # sends the RFC form, which a libzmq client calls an unexpected command.
        {"purezmq": (AUTH, 400), "pyzmq": {"purezmq": (PROTOCOL, UNEXPECTED_COMMAND),
                                          "pyzmq": (AUTH, 400)}},
        True,
    ),
    "wrong-server-key": (
        "CURVE", {}, {}, {"server_key": "OTHER"},
        (PROTOCOL, CRYPTOGRAPHIC), (NO_DETAIL, EPIPE), True,
    ),
    "client-key-not-in-certs": (
        "CURVE", {"certs": "CERTS"}, {}, {"public": "OTHER_PUB", "secret": "OTHER_SEC"},
        (AUTH, 400), (AUTH, 400), True,
    ),
    # Both libraries send the greeting in two steps, the rest once the peer's version came,
    # so each side reads the other's mechanism.  (A side closing with the peer's greeting
    # unread resets the connection: the peer may then see ECONNRESET first.)
    "mechanism-mismatch": (
        "CURVE", {}, {}, {"mech": "PLAIN"},
        (PROTOCOL, MECHANISM_MISMATCH),
        [(PROTOCOL, MECHANISM_MISMATCH), (NO_DETAIL, ECONNRESET)],
        True,
    ),
    "ip-denied": (
        "CURVE", {"deny": ["127.0.0.1"]}, {}, {},
        (AUTH, 400), (AUTH, 400), False,
    ),
    # No ZAP handler: libzmq 4.3 refuses every PLAIN client ...  (A libzmq server then
    # closes the connection, mostly: now and then it keeps it open, and its client only
    # gives up at HANDSHAKE_IVL, hence None: "no handshake", for a libzmq server.)
    "plain-without-handler": (
        "PLAIN", None, {}, {},
        (NO_DETAIL, EFAULT), {"purezmq": {"purezmq": (NO_DETAIL, EPIPE), "pyzmq": None},
                              "pyzmq": (NO_DETAIL, EPIPE)},
        False,
    ),
    # ... and a CURVE server enforcing its ZAP domain.
    "curve-enforced-without-handler": (
        "CURVE", None, {"domain": b"dom", "enforce": True}, {},
        (NO_DETAIL, EFAULT), {"purezmq": {"purezmq": (NO_DETAIL, EPIPE), "pyzmq": None},
                              "pyzmq": (NO_DETAIL, EPIPE)},
        False,
    ),
}


def _event_for(expected, me: str, other: str):
    """``expected``, or its entry for this side's library (then the other side's)."""
    if isinstance(expected, dict):
        expected = expected[me]
        if isinstance(expected, dict):
            expected = expected[other]
    return expected


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refusal(roles, name: str, tmp_path: Path) -> None:
    mech, auth_kw, srv_kw, bad_kw, srv_event, cli_event, good_gets_in = REFUSALS[name]
    if "CURVE" in (mech, bad_kw.get("mech")) and not (HAVE_NACL and zmq.has("curve")):
        pytest.skip("CURVE needs PyNaCl")
    srv, cli = roles
    keys = Keys()
    if auth_kw is not None:
        auth_kw = dict(auth_kw)
        if auth_kw.get("certs") == "CERTS":
            # The allowed client's certificate, written by the *other* library.
            cli.exec("pub, sec = create_certificates(d, 'good')", d=str(tmp_path))
            keys.client_public, keys.client_secret = cli.eval("load_certificate(sec)")
            auth_kw["certs"] = str(tmp_path)
        srv.exec("authenticator(**kw)", kw=auth_kw)
    secret = keys.server_secret if mech == "CURVE" else None
    port = srv.eval("server('srv', mech, secret=secret, **kw)", mech=mech, secret=secret,
                    kw=srv_kw)
    bad = dict(bad_kw)
    bad_mech = bad.pop("mech", mech)
    if bad_mech == "CURVE":
        subst = {"OTHER": keys.other_public, "OTHER_PUB": keys.other_public,
                 "OTHER_SEC": keys.other_secret}
        bad = keys.client(**{k: subst.get(v, v) for k, v in bad.items()})
    cli.exec("client('bad', m, port, **kw)", m=bad_mech, port=port, kw=bad)
    # libzmq drops the pipe of a session whose handshake failed on a protocol error: if the
    # refusal came first, this send times out (Again), which is as refused as it gets.
    cli.exec(
        "try:\n    socks['bad'].send(b'from a refused client')\nexcept zmq.Again:\n    pass"
    )
    event, value = _event_for(srv_event, srv.lib, cli.lib)
    assert srv.eval(f"wait_event('srv', {event})") == value
    expected = _event_for(cli_event, cli.lib, srv.lib)
    if isinstance(expected, tuple):
        expected = [expected]
    if expected is not None:  # one of these, as the first handshake failure
        failures = [AUTH, PROTOCOL, NO_DETAIL]
        assert tuple(cli.eval("wait_any('bad', f)", f=failures)) in expected
    assert SUCCEEDED not in [e for e, _ in cli.eval("events('bad')")]
    assert SUCCEEDED not in [e for e, _ in srv.eval("events('srv')")]
    if good_gets_in:
        good = keys.client() if mech == "CURVE" else {}
        cli.exec("client('cli', m, port, **kw)", m=mech, port=port, kw=good)
        exchange(srv, cli)
    # Nothing from the refused client ever reached the server.
    assert srv.eval("socks['srv'].poll(300)") == 0
    assert cli.eval("socks['bad'].poll(0)") == 0


@needs_curve
def test_refused_subscriber_gets_nothing(roles) -> None:
    """A PUB behind CURVE + ZAP publishes to the subscriber it accepted, never to the other."""
    srv, cli = roles
    keys = Keys()
    srv.exec("authenticator(certs=None)")
    srv.exec("auths[-1].configure_curve_callback('*', OnlyKey(good))", good=keys.client_public)
    port = srv.eval("server('srv', 'CURVE', secret=k, sock_type=zmq.PUB)", k=keys.server_secret)
    cli.exec("client('good', 'CURVE', port, sock_type=zmq.SUB, **kw)", port=port,
             kw=keys.client())
    cli.exec("client('bad', 'CURVE', port, sock_type=zmq.SUB, **kw)", port=port,
             kw=keys.client(public=keys.other_public, secret=keys.other_secret))
    cli.exec("socks['good'].subscribe(b''); socks['bad'].subscribe(b'')")
    assert srv.eval(f"wait_event('srv', {AUTH})") == 400
    assert cli.eval(f"wait_event('bad', {AUTH})") == 400
    srv.exec(
        "import time\n"
        "for i in range(100):\n"
        "    socks['srv'].send(b'news %d' % i)\n"
        "    time.sleep(0.005)"
    )
    got = cli.eval("socks['good'].recv()")
    assert got.startswith(b"news ")
    assert cli.eval("socks['bad'].poll(300)") == 0


# -- ZAP replies from a raw handler ----------------------------------------------------------------
HANDLER = r'''
import threading


def raw_handler(answers, delay_user=None):
    """A ROUTER at the ZAP endpoint answering with ``answers[mechanism]`` (the frames after
    the request id) and recording requests; ``delay_user``'s wait for ``zap.release``."""
    rtr = ctx.socket(zmq.ROUTER)
    rtr.linger = 0
    rtr.bind("inproc://zeromq.zap.01")
    socks["zap"] = rtr
    seen = socks["zap.seen"] = []
    release = socks["zap.release"] = threading.Event()
    stop = socks["zap.stop"] = threading.Event()

    def run():
        held = []
        while not stop.is_set():
            if held and release.is_set():
                rtr.send_multipart(held.pop())
                continue
            if not rtr.poll(20):
                continue
            msg = rtr.recv_multipart()
            envelope, req = msg[:2], msg[2:]  # routing id and b"", then the request
            seen.append(req)
            reply = envelope + [b"1.0", req[1]] + list(answers[req[5]])
            if delay_user is not None and req[6:7] == [delay_user]:
                held.append(reply)
            else:
                rtr.send_multipart(reply)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    socks["zap.thread"] = t


def stop_handler():
    socks["zap.stop"].set()
    socks["zap.thread"].join(5)
'''


@pytest.fixture
def handlers(pure, peer):
    for side in (pure, peer):
        side.exec(HANDLER)
    yield
    for side in (pure, peer):
        side.exec("if 'zap.thread' in socks: stop_handler()")


@needs_curve
@pytest.mark.parametrize(
    "status, client_event",
    [("300", (NO_DETAIL, EPIPE)), ("400", (AUTH, 400)), ("500", (AUTH, 500))],
)
def test_zap_status_codes(roles, handlers, status: str, client_event) -> None:
    """400 and 500 send ERROR, 300 none; each side reports what libzmq reports."""
    srv, cli = roles
    keys = Keys()
    srv.exec("raw_handler({b'CURVE': [status, b'no', b'', b'']})", status=status.encode())
    port = srv.eval("server('srv', 'CURVE', secret=k)", k=keys.server_secret)
    cli.exec("client('cli', 'CURVE', port, **kw)", port=port, kw=keys.client())
    assert srv.eval(f"wait_event('srv', {AUTH})") == int(status)
    if status == "300" and srv.lib == "pyzmq":
        # libzmq goes silent but keeps the connection open: its client waits for
        # HANDSHAKE_IVL.  purezmq closes it (RFC 26: "silently disconnected").
        assert SUCCEEDED not in [e for e, _ in cli.eval("events('cli', 0.5)")]
        return
    event, value = client_event
    assert cli.eval(f"wait_event('cli', {event})") == value


@needs_curve
def test_zap_user_id_and_metadata_reach_the_application(roles, handlers) -> None:
    srv, cli = roles
    keys = Keys()
    meta = bytes((4,)) + b"Role" + struct.pack(">I", 5) + b"admin"
    meta += bytes((8,)) + b"User-Id!" + struct.pack(">I", 1) + b"x"
    srv.exec("raw_handler({b'CURVE': [b'200', b'OK', b'alice', meta]})", meta=meta)
    port = srv.eval("server('srv', 'CURVE', secret=k)", k=keys.server_secret)
    cli.exec("client('cli', 'CURVE', port, **kw)", port=port, kw=keys.client())
    cli.exec("socks['cli'].send_multipart([b'a', b'b'])")
    frames, props = srv.eval("recv_props('srv', 'User-Id', 'Role', 'Peer-Address')")
    assert frames[1:] == [b"a", b"b"]
    assert props == {"User-Id": "alice", "Role": "admin", "Peer-Address": "127.0.0.1"}


@pytest.mark.parametrize("mech", ["PLAIN", "CURVE", "NULL"])
def test_zap_request_matches_libzmq(pure, peer, handlers, mech: str) -> None:
    """The request frames purezmq's server sends are the ones libzmq's sends."""
    if mech == "CURVE" and not HAVE_NACL:
        pytest.skip("CURVE needs PyNaCl")
    keys = Keys()
    requests = {}
    for srv, cli in ((pure, peer), (peer, pure)):
        srv.exec("raw_handler({m: [b'200', b'OK', b'u', b''] for m in (b'PLAIN', b'CURVE', "
                 "b'NULL')})")
        port = srv.eval(
            "server('srv', mech, secret=k, domain=b'dom', rid=b'server-id')",
            mech=mech, k=keys.server_secret,
        )
        cli.exec("client('cli', mech, port, **kw)", mech=mech, port=port,
                 kw=keys.client() if mech == "CURVE" else {})
        cli.exec("socks['cli'].send(b'x')")
        srv.eval("socks['srv'].recv_multipart()")
        req = srv.eval("socks['zap.seen'][0]")
        requests[srv.lib] = req[:1] + req[2:]  # the request id is each library's own
        srv.exec("stop_handler(); reset()")
        cli.exec("reset()")
    assert requests["purezmq"] == requests["pyzmq"]
    expected_creds = {
        "PLAIN": [b"admin", b"secret"],
        "CURVE": [z85.decode(keys.client_public)],
        "NULL": [],
    }[mech]
    assert requests["purezmq"] == [
        b"1.0", b"dom", b"127.0.0.1", b"server-id", mech.encode(), *expected_creds
    ]


@needs_curve
def test_slow_zap_answer_blocks_no_other_handshake(pure, peer, handlers) -> None:
    """One client waits for its ZAP verdict; another connects, handshakes and talks."""
    pure.exec("raw_handler({b'PLAIN': [b'200', b'OK', b'u', b'']}, delay_user=b'slow')")
    port = pure.eval("server('srv', 'PLAIN')")
    peer.exec("client('slow', 'PLAIN', port, user=b'slow')", port=port)
    pure.exec("t0 = time.monotonic()\n"
              "while len(socks['zap.seen']) < 1 and time.monotonic() - t0 < 5: time.sleep(0.01)")
    assert len(pure.eval("socks['zap.seen']")) == 1
    peer.exec("client('cli', 'PLAIN', port)", port=port)
    exchange(pure, peer)
    pure.exec("socks['zap.release'].set()")
    peer.exec("socks['slow'].send(b'late')")
    frames = pure.eval("socks['srv'].recv_multipart()")
    assert frames[1:] == [b"late"]


# -- purezmq only: ZAP client details --------------------------------------------------------------
@pytest.mark.parametrize(
    "reply, value",
    [
        ([b"2.0", "RID", b"200", b"OK", b"u", b""], purezmq.PROTOCOL_ERROR_ZAP_BAD_VERSION),
        ([b"1.0", "RID", b"201", b"OK", b"u", b""], purezmq.PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE),
        ([b"1.0", "RID", b"200", b"OK"], purezmq.PROTOCOL_ERROR_ZAP_MALFORMED_REPLY),
        (
            [b"1.0", "RID", b"200", b"OK", b"u", b"\x05bad"],
            purezmq.PROTOCOL_ERROR_ZAP_INVALID_METADATA,
        ),
    ],
    ids=["version", "status", "frames", "metadata"],
)
def test_malformed_zap_reply_fails_that_handshake(pure, reply, value) -> None:
    ctx = pure.ns["ctx"]
    rep = ctx.socket(purezmq.ROUTER)
    rep.bind("inproc://zeromq.zap.01")
    port = pure.eval("server('srv', 'PLAIN')")
    pure.exec("client('cli', 'PLAIN', port)", port=port)
    assert rep.poll(5000)
    req = rep.recv_multipart()  # routing id, b"", version, request id, ...
    rep.send_multipart(req[:2] + [req[3] if f == "RID" else f for f in reply])
    assert pure.eval(f"wait_event('srv', {PROTOCOL})") == value
    assert SUCCEEDED not in [e for e, _ in pure.eval("events('srv')")]
    rep.close(0)


@needs_curve
def test_authenticator_restart(pure) -> None:
    """The ZAP client follows a handler that went away and came back."""
    keys = Keys()
    pure.exec("authenticator()")
    port = pure.eval("server('srv', 'CURVE', secret=k)", k=keys.server_secret)
    pure.exec("client('c1', 'CURVE', port, **kw)", port=port, kw=keys.client())
    exchange(pure, pure, client="c1", user_id=keys.client_public.decode())
    pure.exec("auths.pop().stop()")
    pure.exec("a = authenticator(curve=False); a.configure_curve('*', CURVE_ALLOW_ANY)")
    pure.exec("client('c2', 'CURVE', port, **kw)", port=port, kw=keys.client())
    exchange(pure, pure, client="c2", user_id=keys.client_public.decode())


@needs_curve
def test_curve_without_handler_is_stonehouse_unless_enforced(pure, peer) -> None:
    """libzmq: with no handler a CURVE server takes any client that knows its key."""
    keys = Keys()
    for side in (pure, peer):
        port = side.eval("server('srv', 'CURVE', secret=k, domain=b'd')", k=keys.server_secret)
        side.exec("client('cli', 'CURVE', port, **kw)", port=port, kw=keys.client())
        exchange(side, side)


def test_zap_enforce_domain_on_null(pure, peer) -> None:
    """NULL with a domain and no handler: accepted; enforcing: refused (as libzmq)."""
    for side in (pure, peer):
        port = side.eval("server('open', 'NULL', domain=b'd')")
        side.exec("client('cli', 'NULL', port)", port=port)
        exchange(side, side, server="open")
        port = side.eval("server('shut', 'NULL', domain=b'd', enforce=True)")
        side.exec("client('c2', 'NULL', port)", port=port)
        assert side.eval(f"wait_event('shut', {NO_DETAIL})") == EFAULT


# -- a flood of bad handshakes --------------------------------------------------------------------
def _greeting(mech: bytes) -> bytes:
    return b"\xff" + bytes(8) + b"\x7f\x03\x01" + mech.ljust(20, b"\x00") + bytes(32)


@needs_curve
@pytest.mark.parametrize("good", ["purezmq", "pyzmq"])
def test_hello_flood_does_not_stop_a_good_client(pure, peer, good: str) -> None:
    keys = Keys()
    pure.exec("authenticator()")
    port = pure.eval("server('srv', 'CURVE', secret=k)", k=keys.server_secret)
    raw = []
    rnd = random.Random(1)
    try:
        for i in range(120):
            s = socket.create_connection(("127.0.0.1", port))
            raw.append(s)
            kind = i % 4
            if kind == 0:  # a greeting, then nothing: waits for HANDSHAKE_IVL
                s.sendall(_greeting(b"CURVE"))
            elif kind == 1:  # a greeting, then garbage
                s.sendall(_greeting(b"CURVE") + rnd.randbytes(300))
            elif kind == 2:  # a well-formed HELLO that does not open (random box)
                body = b"\x05HELLO\x01\x00" + bytes(72) + rnd.randbytes(32) + struct.pack(
                    ">Q", 1) + rnd.randbytes(80)
                s.sendall(_greeting(b"CURVE") + b"\x04" + bytes((len(body),)) + body)
            else:  # half a greeting
                s.sendall(_greeting(b"CURVE")[:30])
        side = pure if good == "purezmq" else peer
        t0 = time.monotonic()
        side.exec("client('cli', 'CURVE', port, **kw)", port=port, kw=keys.client())
        exchange(pure, side, user_id=keys.client_public.decode())
        assert time.monotonic() - t0 < 10
        pure.eval(f"wait_event('srv', {PROTOCOL})")  # the garbage was refused
    finally:
        for s in raw:
            s.close()


# -- socket options, against pyzmq in this process ----------------------------------------------
def _apply(lib, steps):
    """Run ``(option, value)`` steps on a fresh REQ of ``lib``; return what each step did and
    the security readouts after it."""
    ctx = lib.Context()
    s = ctx.socket(lib.REQ)
    out = []
    try:
        for option, value in steps:
            try:
                s.setsockopt(getattr(lib, option), value)
                did = "ok"
            except lib.ZMQError as e:
                did = e.errno
            except TypeError:
                did = "TypeError"
            out.append((did, int(s.mechanism), s.plain_server, s.curve_server))
    finally:
        s.close(0)
        ctx.term()
    return out


OPTION_STEPS = {
    "plain-client": [("PLAIN_USERNAME", b"u"), ("PLAIN_PASSWORD", b"p")],
    "plain-server-then-off": [("PLAIN_SERVER", 1), ("PLAIN_SERVER", 0)],
    "plain-server-then-username": [("PLAIN_SERVER", 1), ("PLAIN_USERNAME", b"u")],
    "bad-values": [
        ("PLAIN_SERVER", 2),
        ("PLAIN_USERNAME", b""),
        ("PLAIN_PASSWORD", b"x" * 256),
        ("PLAIN_PASSWORD", b"x" * 255),
        ("PLAIN_USERNAME", "text"),
        ("ZAP_DOMAIN", b""),
        ("ZAP_DOMAIN", b"x" * 256),
        ("ZAP_DOMAIN", b"dom"),
        ("ZAP_ENFORCE_DOMAIN", 7),
        ("GSSAPI_SERVER", 1),
    ],
}
CURVE_STEPS = {
    "curve-server-then-off": [("CURVE_SERVER", 1), ("CURVE_SERVER", 0)],
    "curve-keys": [("CURVE_SECRETKEY", "SEC"), ("CURVE_PUBLICKEY", "PUB")],
    "curve-server-then-serverkey": [("CURVE_SERVER", 1), ("CURVE_SERVERKEY", "PUB")],
    "last-one-wins": [
        ("CURVE_SERVERKEY", "PUB"),
        ("PLAIN_PASSWORD", b"p"),
        ("CURVE_SERVER", 1),
        ("PLAIN_SERVER", 0),
    ],
    "bad-keys": [
        ("CURVE_SERVERKEY", b"x" * 10),
        ("CURVE_SERVERKEY", b"#" * 40),
        ("CURVE_SERVERKEY", b"\x01" * 40),
        ("CURVE_SERVERKEY", "PUB41"),
        ("CURVE_SERVERKEY", "PUB_BIN"),
        ("CURVE_SERVER", 5),
    ],
}


@pytest.mark.parametrize(
    "name",
    list(OPTION_STEPS) + [pytest.param(n, marks=needs_curve) for n in CURVE_STEPS],
)
def test_security_options_behave_like_pyzmq(name: str) -> None:
    steps = OPTION_STEPS.get(name) or CURVE_STEPS[name]
    public, secret = zmq.curve_keypair()
    subst = {"PUB": public, "SEC": secret, "PUB41": public + b"\0", "PUB_BIN": z85.decode(public)}
    steps = [(o, subst.get(v, v) if isinstance(v, str) else v) for o, v in steps]
    assert _apply(purezmq, steps) == _apply(zmq, steps)


def test_option_readouts() -> None:
    ctx = purezmq.Context()
    s = ctx.socket(purezmq.DEALER)
    try:
        assert (s.mechanism, s.plain_server, s.curve_server) == (purezmq.NULL, 0, 0)
        assert (s.plain_username, s.plain_password, s.zap_domain) == (b"", b"", b"")
        s.plain_username = b"user"
        s.setsockopt_string(purezmq.PLAIN_PASSWORD, "pässword")
        s.zap_domain = b"global"
        s.zap_enforce_domain = True
        assert s.plain_username == b"user"
        assert s.getsockopt_string(purezmq.PLAIN_PASSWORD) == "pässword"
        assert (s.zap_domain, s.zap_enforce_domain) == (b"global", 1)
        assert type(s.mechanism) is int and s.mechanism == purezmq.PLAIN
        with pytest.raises(TypeError):
            s.plain_username = "text"  # as pyzmq: bytes only, or setsockopt_string
    finally:
        s.close()
        ctx.term()


@needs_curve
def test_curve_key_readout_is_z85() -> None:
    """pyzmq 27 cannot read CURVE keys back (libzmq wants a 32 or 41 byte buffer and gets
    255: EINVAL); purezmq answers Z85 text, without the NUL, like other string options."""
    public, secret = purezmq.curve_keypair()
    ctx = purezmq.Context()
    s = ctx.socket(purezmq.DEALER)
    try:
        assert s.curve_serverkey == z85.encode(bytes(32))  # unset: zeros, as libzmq
        s.curve_secretkey = z85.decode(secret)
        s.setsockopt_string(purezmq.CURVE_PUBLICKEY, public.decode())
        s.setsockopt(purezmq.CURVE_SERVERKEY, public + b"\0")
        assert s.curve_secretkey == secret
        assert s.getsockopt(purezmq.CURVE_PUBLICKEY) == public
        assert s.getsockopt_string(purezmq.CURVE_SERVERKEY) == public.decode()
        with pytest.raises(TypeError):
            s.curve_secretkey = secret.decode()
    finally:
        s.close()
        ctx.term()


def test_curve_options_without_pynacl_name_the_extra(monkeypatch) -> None:
    from purezmq.zmtp.mechanisms import curve

    monkeypatch.setattr(curve, "_nacl", None)
    ctx = purezmq.Context()
    s = ctx.socket(purezmq.DEALER)
    try:
        for option, value in (
            (purezmq.CURVE_SERVER, 1),
            (purezmq.CURVE_SECRETKEY, bytes(32)),
            (purezmq.CURVE_SERVERKEY, bytes(32)),
        ):
            with pytest.raises(purezmq.ZMQError) as info:
                s.setsockopt(option, value)
            assert info.value.errno == purezmq.EINVAL
            assert "pip install 'purezmq[curve]'" in str(info.value)
        s.plain_server = True  # the others still work
        assert s.mechanism == purezmq.PLAIN
    finally:
        s.close()
        ctx.term()


def test_peer_cannot_forge_its_user_id(pure) -> None:
    """A peer's own "User-Id" or "Peer-Address" metadata never shows: only ZAP sets them."""
    from purezmq.zmtp.metadata import encode_metadata

    port = pure.eval("server('srv', 'NULL')")
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(_greeting(b"NULL"))
        ready = b"\x05READY" + encode_metadata(
            {"Socket-Type": b"DEALER", "user-id": b"root", "Peer-Address": b"10.0.0.1"}
        )
        s.sendall(b"\x04" + bytes((len(ready),)) + ready + b"\x01\x00\x00\x02hi")
        frames = pure.ns["socks"]["srv"].recv_multipart(copy=False)
        assert frames[-1].bytes == b"hi"
        assert frames[-1].get("Peer-Address") == "127.0.0.1"
        with pytest.raises(purezmq.ZMQError):
            frames[-1].get("User-Id")
    finally:
        s.close()


def test_core_stays_free_of_pyzmq() -> None:
    code = (
        "import sys, purezmq, purezmq.auth, purezmq.auth.thread, purezmq.security\n"
        "assert 'zmq' not in sys.modules, sorted(m for m in sys.modules if 'zmq' in m)"
    )
    env = dict(os.environ)
    src = str(Path(purezmq.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=30)


def test_threads_left_behind(pure) -> None:
    """An authenticator's thread ends with stop()."""
    pure.exec("a = authenticator(curve=False)")
    thread = pure.eval("a.thread")
    assert thread.is_alive()
    pure.exec("auths.remove(a); a.stop()")
    assert not thread.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "purezmq-auth"]
