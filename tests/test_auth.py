"""``purezmq.auth``: pyzmq's ``zmq.auth`` API (authenticators, certificates) over purezmq.

The policy of :class:`Authenticator` is checked reply by reply against pyzmq's own
(both fed the same ZAP requests); the threaded and asyncio authenticators end to end over
tcp; certificate files both ways between the two libraries.  Wire interop with libzmq is
in ``test_security.py``.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import stat
import struct
import threading
import time
import warnings
from pathlib import Path

import pytest

import purezmq
import purezmq.auth
from purezmq.auth import (
    CURVE_ALLOW_ANY,
    Authenticator,
    create_certificates,
    load_certificate,
    load_certificates,
)
from purezmq.auth.thread import ThreadAuthenticator
from purezmq.utils import z85

pytest.importorskip("zmq")  # pyzmq, the reference
import zmq  # noqa: E402
import zmq.auth  # noqa: E402
import zmq.auth.thread  # noqa: E402

pytestmark = pytest.mark.timeout(60)

try:
    import nacl.bindings  # noqa: F401

    HAVE_NACL = True
except ImportError:  # pragma: no cover - PyNaCl is a test dependency
    HAVE_NACL = False
needs_curve = pytest.mark.skipif(not HAVE_NACL, reason="CURVE needs PyNaCl")

AUTH = int(purezmq.EVENT_HANDSHAKE_FAILED_AUTH)
SUCCEEDED = int(purezmq.EVENT_HANDSHAKE_SUCCEEDED)


# -- the API as pyzmq has it -------------------------------------------------------------------
def _public(obj) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


@pytest.mark.parametrize(
    "module, names",
    [
        ("auth", None),
        ("auth.base", ["Authenticator", "CURVE_ALLOW_ANY", "VERSION"]),
        ("auth.certs", ["create_certificates", "load_certificate", "load_certificates"]),
        ("auth.thread", ["ThreadAuthenticator", "AuthenticationThread"]),
    ],
)
def test_names_match_pyzmq(module: str, names) -> None:
    ours = importlib.import_module(f"purezmq.{module}")
    theirs = importlib.import_module(f"zmq.{module}")
    if names is None:  # the package: every public name but its submodules
        names = {n for n in _public(theirs) if not inspect.ismodule(getattr(theirs, n))}
        assert names <= _public(ours)
    for name in names:
        assert hasattr(ours, name), name


@pytest.mark.parametrize("cls", ["Authenticator", "ThreadAuthenticator"])
def test_class_members_match_pyzmq(cls: str) -> None:
    ours = getattr(purezmq.auth, cls, None) or getattr(purezmq.auth.thread, cls)
    theirs = getattr(zmq.auth, cls, None) or getattr(zmq.auth.thread, cls)
    assert not _public(theirs) - _public(ours)
    assert CURVE_ALLOW_ANY == zmq.auth.CURVE_ALLOW_ANY


def test_configure_gssapi_is_not_supported() -> None:
    auth = Authenticator(purezmq.Context())
    with pytest.raises(purezmq.ZMQError) as info:
        auth.configure_gssapi()
    assert info.value.errno == purezmq.ENOTSUP
    auth.context.term()


def test_allow_and_deny_exclude_each_other() -> None:
    a = Authenticator(purezmq.Context())
    a.allow("10.0.0.1")
    with pytest.raises(ValueError):
        a.deny("10.0.0.2")
    b = Authenticator(a.context)
    b.deny("10.0.0.2")
    with pytest.raises(ValueError):
        b.allow("10.0.0.1")
    a.context.term()


def test_default_context_is_the_global_instance() -> None:
    assert Authenticator().context is purezmq.Context.instance()


# -- the policy, reply by reply against pyzmq's -------------------------------------------------
class FakeZapSocket:
    def __init__(self) -> None:
        self.sent: list[list[bytes]] = []

    def send_multipart(self, msg) -> None:
        self.sent.append([bytes(f) for f in msg])


class Provider:
    def __init__(self, allowed: bytes, asynchronous: bool = False) -> None:
        self.allowed = allowed
        self.asynchronous = asynchronous

    def callback(self, domain, key):
        ok = key == self.allowed
        if self.asynchronous:

            async def later():
                await asyncio.sleep(0)
                return ok

            return later()
        return ok


def _pair(configure):
    """An Authenticator of each library, configured alike, answering into fake sockets."""
    zctx = zmq.Context.instance()
    pairs = []
    for cls, ctx in ((Authenticator, purezmq.Context.instance()), (zmq.auth.Authenticator, zctx)):
        a = cls(ctx)
        a.zap_socket = FakeZapSocket()
        configure(a)
        pairs.append(a)
    return pairs


def _ask(auths, request: list[bytes]) -> list[list[bytes]]:
    for a in auths:
        asyncio.run(a.handle_zap_message(list(request)))
    answers = [a.zap_socket.sent.pop() if a.zap_socket.sent else None for a in auths]
    assert answers[0] == answers[1], (request, answers)
    return answers[0]


def _req(mech: bytes, *creds: bytes, address=b"127.0.0.1", domain=b"", version=b"1.0"):
    return [version, b"7", domain, address, b"id", mech, *creds]


KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))
POLICIES = {
    "unconfigured": (
        lambda a: None,
        [_req(b"NULL"), _req(b"PLAIN", b"u", b"p"), _req(b"CURVE", KEY_A)],
    ),
    "plain": (
        lambda a: a.configure_plain("*", {"admin": "secret"}),
        [
            _req(b"PLAIN", b"admin", b"secret"),
            _req(b"PLAIN", b"admin", b"wrong"),
            _req(b"PLAIN", b"nobody", b"secret"),
            _req(b"PLAIN", b"admin", b"secret", domain=b"other"),
            _req(b"PLAIN", b"admin"),
        ],
    ),
    "plain-domain": (
        lambda a: a.configure_plain("dom", {"admin": "secret"}),
        [_req(b"PLAIN", b"admin", b"secret", domain=b"dom"), _req(b"PLAIN", b"admin", b"s")],
    ),
    "curve-any": (
        lambda a: a.configure_curve("*", CURVE_ALLOW_ANY),
        [_req(b"CURVE", KEY_A), _req(b"CURVE", KEY_A, KEY_B), _req(b"CURVE")],
    ),
    "curve-callback": (
        lambda a: a.configure_curve_callback("*", Provider(z85.encode(KEY_A))),
        [_req(b"CURVE", KEY_A), _req(b"CURVE", KEY_B), _req(b"CURVE", KEY_A, domain=b"x")],
    ),
    "curve-async-callback": (
        lambda a: a.configure_curve_callback("*", Provider(z85.encode(KEY_A), True)),
        [_req(b"CURVE", KEY_A), _req(b"CURVE", KEY_B)],
    ),
    "allow": (
        lambda a: (a.allow("127.0.0.1"), a.configure_plain("*", {"u": "p"})),
        [
            _req(b"NULL"),
            _req(b"NULL", address=b"10.1.1.1"),
            _req(b"PLAIN", b"u", b"p"),
            _req(b"PLAIN", b"u", b"x"),
            _req(b"PLAIN", b"u", b"p", address=b"10.1.1.1"),
        ],
    ),
    "deny": (
        lambda a: (a.deny("10.1.1.1"), a.configure_curve("*", CURVE_ALLOW_ANY)),
        [
            _req(b"NULL"),
            _req(b"NULL", address=b"10.1.1.1"),
            _req(b"CURVE", KEY_A, address=b"10.1.1.1"),
        ],
    ),
    "malformed": (
        lambda a: None,
        [_req(b"NULL", version=b"2.0"), [b"1.0", b"7", b"", b"addr"], [b"1.0"]],
    ),
}


@pytest.mark.parametrize("policy", list(POLICIES))
def test_policy_answers_like_pyzmq(policy: str) -> None:
    configure, requests = POLICIES[policy]
    auths = _pair(configure)
    for request in requests:
        _ask(auths, request)


def test_curve_user_id_can_be_overridden() -> None:
    class Named(Authenticator):
        def curve_user_id(self, client_public_key: bytes) -> str:
            return "user-" + client_public_key[:2].hex()

    a = Named(purezmq.Context.instance())
    a.zap_socket = FakeZapSocket()
    a.configure_curve("*", CURVE_ALLOW_ANY)
    asyncio.run(a.handle_zap_message(_req(b"CURVE", KEY_A)))
    assert a.zap_socket.sent == [[b"1.0", b"7", b"200", b"OK", b"user-0001", b""]]


# -- certificates ------------------------------------------------------------------------------
@needs_curve
def test_certificates_round_trip(tmp_path: Path) -> None:
    public_file, secret_file = create_certificates(tmp_path, "alice", metadata={"name": "Alice"})
    assert (public_file, secret_file) == (
        str(tmp_path / "alice.key"),
        str(tmp_path / "alice.key_secret"),
    )
    public, none = load_certificate(public_file)
    public2, secret = load_certificate(secret_file)
    assert none is None and public == public2
    assert purezmq.curve_public(secret) == public
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    text = Path(secret_file).read_text()
    assert 'name = "Alice"' in text and "secret-key" in text
    assert "secret-key" not in Path(public_file).read_text()


@needs_curve
def test_certificates_interchange_with_pyzmq(tmp_path: Path) -> None:
    ours = create_certificates(tmp_path, "ours", metadata={"k": "v"})
    theirs = zmq.auth.create_certificates(tmp_path, "theirs", metadata={"k": "v"})
    for public_file, secret_file in (ours, theirs):
        for path in (public_file, secret_file):
            assert load_certificate(path) == zmq.auth.load_certificate(path)
    (tmp_path / ".hidden.key").write_text((tmp_path / "ours.key").read_text())
    os.mkdir(tmp_path / "dir.key")
    assert load_certificates(tmp_path) == {
        load_certificate(ours[0])[0]: True,
        load_certificate(theirs[0])[0]: True,
    }


def test_certificate_errors(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        load_certificate(tmp_path / "missing.key")
    with pytest.raises(OSError):
        load_certificates(tmp_path / "missing")
    empty = tmp_path / "empty.key"
    empty.write_text("metadata\ncurve\n")
    with pytest.raises(ValueError):
        load_certificate(empty)


# -- end to end: ThreadAuthenticator -------------------------------------------------------------
class Net:
    """A purezmq context with servers and clients over tcp and their monitors."""

    def __init__(self) -> None:
        self.ctx = purezmq.Context()
        self.socks: list = []

    def sock(self, kind: int, **options):
        s = self.ctx.socket(kind)
        s.linger = 0
        s.rcvtimeo = 5000
        s.sndtimeo = 5000
        for name, value in options.items():
            setattr(s, name, value)
        self.socks.append(s)
        s._test_monitor = s.get_monitor_socket()  # (pyzmq too: no undeclared public attribute)
        return s

    def server(self, **options):
        s = self.sock(purezmq.ROUTER, **options)
        port = s.bind_to_random_port("tcp://127.0.0.1")
        return s, port

    def client(self, port: int, **options):
        s = self.sock(purezmq.DEALER, **options)
        s.connect(f"tcp://127.0.0.1:{port}")
        return s

    def close(self) -> None:
        self.ctx.destroy(0)


def first_event(sock, wanted: set[int], timeout: float = 5.0) -> tuple[int, int]:
    mon = sock._test_monitor
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if mon.poll(50):
            head, _ = mon.recv_multipart()
            event, value = struct.unpack("<HI", head[:6])
            if event in wanted:
                return event, value
    raise AssertionError(f"none of {wanted} happened")


def talks(srv, cli, user_id: str | None) -> None:
    cli.send_multipart([b"ping", b"x" * 1000])
    frames = srv.recv_multipart(copy=False)
    assert [f.bytes for f in frames[1:]] == [b"ping", b"x" * 1000]
    if user_id is not None:
        assert frames[-1].get("User-Id") == user_id
    srv.send_multipart([frames[0].bytes, b"pong"])
    assert cli.recv_multipart() == [b"pong"]


def refused(cli) -> int:
    event, value = first_event(cli, {AUTH, SUCCEEDED})
    assert event == AUTH
    return value


@pytest.fixture
def net():
    n = Net()
    yield n
    n.close()


@pytest.fixture
def thread_auth(net):
    auth = ThreadAuthenticator(net.ctx)
    auth.start()
    yield auth
    auth.stop()


def test_thread_authenticator_plain(net, thread_auth) -> None:
    thread_auth.configure_plain("*", {"admin": "secret", "bob": "hunter2"})
    assert thread_auth.is_alive()
    srv, port = net.server(plain_server=True)
    good = net.client(port, plain_username=b"bob", plain_password=b"hunter2")
    bad = net.client(port, plain_username=b"bob", plain_password=b"wrong")
    talks(srv, good, "bob")
    assert refused(bad) == 400
    talks(srv, good, "bob")


@needs_curve
def test_thread_authenticator_curve_certificates(net, thread_auth, tmp_path: Path) -> None:
    server_public, server_secret = purezmq.curve_keypair()
    alice = load_certificate(create_certificates(tmp_path, "alice")[1])
    bob = load_certificate(create_certificates(tmp_path / "..", "bob-" + tmp_path.name)[1])
    thread_auth.configure_curve("*", tmp_path)
    srv, port = net.server(curve_server=True, curve_secretkey=server_secret)

    def client(keys):
        return net.client(
            port, curve_serverkey=server_public, curve_publickey=keys[0], curve_secretkey=keys[1]
        )

    talks(srv, client(alice), alice[0].decode())
    assert refused(client(bob)) == 400
    # A certificate added later counts once configure_curve has read the directory again.
    Path(tmp_path / "bob.key").write_bytes(
        Path(tmp_path / ".." / f"bob-{tmp_path.name}.key").read_bytes()
    )
    thread_auth.configure_curve("*", tmp_path)
    talks(srv, client(bob), bob[0].decode())


@needs_curve
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_thread_authenticator_curve_callback(net, thread_auth, asynchronous: bool) -> None:
    server_public, server_secret = purezmq.curve_keypair()
    good, bad = purezmq.curve_keypair(), purezmq.curve_keypair()
    thread_auth.configure_curve_callback("*", Provider(good[0], asynchronous))
    srv, port = net.server(curve_server=True, curve_secretkey=server_secret)
    opts = {"curve_serverkey": server_public}
    talks(srv, net.client(port, curve_publickey=good[0], curve_secretkey=good[1], **opts),
          good[0].decode())
    assert refused(net.client(port, curve_publickey=bad[0], curve_secretkey=bad[1], **opts)) == 400


@needs_curve
def test_a_failing_callback_refuses_and_the_thread_goes_on(net, thread_auth, caplog) -> None:
    server_public, server_secret = purezmq.curve_keypair()
    keys = purezmq.curve_keypair()
    calls = []

    class Flaky:
        def callback(self, domain, key):
            calls.append(key)
            if len(calls) == 1:
                raise RuntimeError("database down")
            return True

    thread_auth.configure_curve_callback("*", Flaky())
    srv, port = net.server(curve_server=True, curve_secretkey=server_secret)
    opts = {"curve_serverkey": server_public, "curve_publickey": keys[0]}
    opts["curve_secretkey"] = keys[1]
    assert refused(net.client(port, **opts)) == 500
    talks(srv, net.client(port, **opts), keys[0].decode())
    assert thread_auth.is_alive()


def test_thread_authenticator_addresses(net, thread_auth) -> None:
    thread_auth.deny("127.0.0.1")
    srv, port = net.server(zap_domain=b"global")
    assert refused(net.client(port)) == 400


def test_thread_authenticator_allows_null_by_address(net, thread_auth) -> None:
    thread_auth.allow("127.0.0.1")
    srv, port = net.server(zap_domain=b"global")
    talks(srv, net.client(port), "anonymous")


def test_thread_authenticator_stop_and_start_again(net) -> None:
    for _ in range(3):
        auth = ThreadAuthenticator(net.ctx)
        auth.start()
        auth.configure_plain("*", {"u": "p"})
        srv, port = net.server(plain_server=True)
        talks(srv, net.client(port, plain_username=b"u", plain_password=b"p"), "u")
        thread = auth.thread
        auth.stop()
        assert not thread.is_alive() and not auth.is_alive()
    assert "purezmq-auth" not in [t.name for t in threading.enumerate()]


def test_many_handshakes_at_once(net, thread_auth) -> None:
    thread_auth.configure_plain("*", {f"user{i}": f"pw{i}" for i in range(40)})
    srv, port = net.server(plain_server=True)
    clients = [
        net.client(port, plain_username=f"user{i}".encode(), plain_password=f"pw{i}".encode())
        for i in range(40)
    ]
    for i, c in enumerate(clients):
        c.send(b"%d" % i)
    seen = {}
    for _ in clients:
        frames = srv.recv_multipart(copy=False)
        seen[frames[1].bytes] = frames[1].get("User-Id")
    assert seen == {b"%d" % i: f"user{i}" for i in range(40)}


# -- end to end: AsyncioAuthenticator -------------------------------------------------------------
def test_asyncio_authenticator() -> None:
    aio = pytest.importorskip("purezmq.asyncio")
    from purezmq.auth.asyncio import AsyncioAuthenticator

    async def main() -> None:
        ctx = aio.Context()
        auth = AsyncioAuthenticator(ctx)
        auth.start()
        auth.configure_plain("*", {"admin": "secret"})
        try:
            srv = ctx.socket(purezmq.ROUTER)
            srv.plain_server = True
            port = srv.bind_to_random_port("tcp://127.0.0.1")
            cli = ctx.socket(purezmq.DEALER)
            cli.plain_username, cli.plain_password = b"admin", b"secret"
            cli.connect(f"tcp://127.0.0.1:{port}")
            await cli.send_multipart([b"hi"])
            frames = await asyncio.wait_for(srv.recv_multipart(copy=False), 5)
            assert frames[-1].bytes == b"hi"
            assert frames[-1].get("User-Id") == "admin"
            bad = ctx.socket(purezmq.DEALER)
            bad.plain_username, bad.plain_password = b"admin", b"nope"
            mon = bad.get_monitor_socket()
            bad.connect(f"tcp://127.0.0.1:{port}")
            head, _ = await asyncio.wait_for(mon.recv_multipart(), 5)
            while struct.unpack("<HI", head[:6])[0] != AUTH:
                head, _ = await asyncio.wait_for(mon.recv_multipart(), 5)
            assert struct.unpack("<HI", head[:6])[1] == 400
        finally:
            auth.stop()
            ctx.destroy(0)

    asyncio.run(main())


def test_ioloop_authenticator_is_deprecated() -> None:
    pytest.importorskip("purezmq.asyncio")
    import sys

    sys.modules.pop("purezmq.auth.ioloop", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from purezmq.auth.ioloop import IOLoopAuthenticator
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    from purezmq.auth.asyncio import AsyncioAuthenticator

    assert issubclass(IOLoopAuthenticator, AsyncioAuthenticator)
