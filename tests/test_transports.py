"""tcp, ipc and inproc in detail: endpoints, options, errnos, files, names.

Wherever libzmq's behaviour is the specification, the same scenario runs on pyzmq (libzmq
4.3) in the same test and both outcomes must agree.  Where purezmq deliberately differs,
the test says so and checks purezmq's side only (see the module's ``DIFFERENCES``).

Traffic goes to 127.0.0.1, ::1 and ipc paths only.  Host names are ``localhost`` (from
/etc/hosts) or strings no resolver sends to DNS (``ifx@0``): binding 203.0.113.7 (TEST-NET-3)
only asks the kernel, which answers EADDRNOTAVAIL.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

import purezmq

try:
    import zmq as pyzmq
except ImportError:  # pragma: no cover - pyzmq is a test dependency
    pyzmq = None

pytestmark = pytest.mark.timeout(60)

DIFFERENCES = """
purezmq differs from libzmq 4.3.5 on purpose in these (tested below on purezmq's side):
- ports: "99999", "-1", "12ab" are EINVAL (libzmq: atoi, 16-bit wrap: 34463, 65535, 12);
  connect to port 0 and to an empty host are EINVAL (libzmq: accepted, retried for ever).
- "tcp://127.0.0.2;127.0.0.1:P" (a source without a port) connects from 127.0.0.2 (libzmq
  wants "127.0.0.2:0" and otherwise never connects).
- ipc bind on a path a live socket listens on is EADDRINUSE, and a path that is not a
  socket is not removed (libzmq unlinks either and takes the path over).
- ipc files of named paths are removed on unbind/close (libzmq 4.3.5 removes only those of
  ipc://*); ipc://* makes its directory under TMPDIR or /tmp (libzmq: relative to the cwd
  unless TMPDIR, TEMPDIR or TMP is set).
- inproc connect-before-bind: once bound, a sender blocked at its SNDHWM may go on up to
  SNDHWM + RCVHWM (libzmq keeps it blocked until the reader reads).
- close() releases inproc names at once (libzmq: asynchronously, a bind right after the
  close may be EADDRINUSE); an ipc path is free at once after unbind/close in this process.
"""

LIBS = [purezmq] + ([pyzmq] if pyzmq is not None else [])
TIMEO = 5000


def lib_id(lib) -> str:
    return lib.__name__


# -- helpers -------------------------------------------------------------------------------------
@pytest.fixture
def ctxs():
    """One context per library, destroyed (linger 0) after the test."""
    made = {lib: lib.Context() for lib in LIBS}
    yield made
    done = threading.Event()

    def destroy() -> None:
        for c in made.values():
            c.destroy(linger=0)
        done.set()

    threading.Thread(target=destroy, daemon=True).start()
    assert done.wait(10), "Context.destroy(linger=0) hung"


@pytest.fixture
def ctx(ctxs):
    return ctxs[purezmq]


@pytest.fixture(scope="module")
def ipc_dir():
    path = tempfile.mkdtemp(prefix="pztr-")  # short: sun_path holds 107 bytes
    yield path
    shutil.rmtree(path, ignore_errors=True)


def need_pyzmq() -> None:
    if pyzmq is None:
        pytest.skip("pyzmq (the libzmq reference) is not installed")


def make(ctx_or_ctxs, lib, stype_name: str, **options):
    c = ctx_or_ctxs[lib] if isinstance(ctx_or_ctxs, dict) else ctx_or_ctxs
    s = c.socket(getattr(lib, stype_name))
    s.rcvtimeo = TIMEO
    s.sndtimeo = TIMEO
    s.linger = 0
    for name, value in options.items():
        s.setsockopt(getattr(lib, name.upper()), value)
    return s


def outcome(lib, fn):
    """``("ok", value)`` or ``("err", "ENAME")``: comparable across libraries."""
    try:
        return ("ok", fn(lib))
    except lib.ZMQError as e:
        return ("err", errno.errorcode.get(e.errno, e.errno))


def agree(fn):
    """Run ``fn(lib)`` on purezmq and on pyzmq; the outcomes must be equal."""
    need_pyzmq()
    mine, ref = outcome(purezmq, fn), outcome(pyzmq, fn)
    assert mine == ref, f"purezmq: {mine}, libzmq: {ref}"
    return mine


def no_port(endpoint: str) -> str:
    return re.sub(r":\d+$", ":PORT", endpoint)


def free_port(host: str = "127.0.0.1", family: int = socket.AF_INET) -> int:
    s = socket.socket(family)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def recv_or_none(sock, lib, timeout_ms: int = 200):
    if not sock.poll(timeout_ms, lib.POLLIN):
        return None
    return sock.recv_multipart(lib.NOBLOCK)


def wait_for(cond, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def roundtrip(push, pull, body: bytes = b"ping") -> None:
    push.send(body)
    assert pull.recv() == body


def can_bind_tcp(host: str, port: int, family: int = socket.AF_INET) -> bool:
    s = socket.socket(family)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def has_ipv6_loopback() -> bool:
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback")


# == tcp: bind ===================================================================================
BIND_CASES = [
    # (endpoint, IPV6) -> the same LAST_ENDPOINT (port aside) or the same errno as libzmq
    ("tcp://127.0.0.1:*", 0),
    ("tcp://127.0.0.1:0", 0),
    ("tcp://127.0.0.2:*", 0),
    ("tcp://*:*", 0),  # tcp://0.0.0.0:PORT
    ("tcp://0.0.0.0:*", 0),
    ("tcp://localhost:*", 0),
    ("tcp://lo:*", 0),  # an interface name: its address
    ("tcp://127.0.0.1%lo:*", 0),  # a zone on an IPv4 address: ignored
    ("tcp://ifx@0:*", 0),  # no such interface, no such address: ENODEV
    ("tcp://:*", 0),  # ENODEV too
    ("tcp://[::1]:*", 0),  # IPv6 without IPV6: ENODEV
    ("tcp://[::]:*", 0),
    ("tcp://203.0.113.7:*", 0),  # not on this host: EADDRNOTAVAIL
    ("tcp://203.0.113.7:5555", 0),
    ("tcp://127.0.0.1", 0),  # EINVAL: no port
    ("tcp://127.0.0.1:65536", 0),
    ("tcp://lo%x:*", 0),  # no such zone: EINVAL
]
BIND_CASES_V6 = [
    ("tcp://*:*", 1),  # tcp://[::]:PORT, dual-stack
    ("tcp://[::]:*", 1),
    ("tcp://[::1]:*", 1),
    ("tcp://::1:*", 1),  # the last colon separates the port
    ("tcp://[::1%lo]:*", 1),
    ("tcp://lo:*", 1),  # the interface's IPv6 address
    ("tcp://127.0.0.1:*", 1),  # IPv4 mapped: tcp://[::ffff:127.0.0.1]:PORT
    ("tcp://[::ffff:127.0.0.1]:*", 1),
    ("tcp://localhost:*", 1),
    ("tcp://[2001:db8::7]:*", 1),  # EADDRNOTAVAIL
    ("tcp://[::1%]:*", 1),  # EINVAL: empty zone
    ("tcp://[::1%0]:*", 1),
    ("tcp://[fe80::1%lo]:*", 1),  # a zone, and then EADDRNOTAVAIL
    ("tcp://[::1:*", 1),  # ENODEV: no closing bracket, no such host
]


def _bind_le(endpoint: str, ipv6: int):
    def run(lib):
        c = lib.Context.instance()
        s = c.socket(lib.PULL)
        s.linger = 0
        s.ipv6 = ipv6
        try:
            s.bind(endpoint)
            return no_port(s.last_endpoint.decode())
        finally:
            s.close()

    return run


@pytest.mark.parametrize("endpoint, ipv6", BIND_CASES)
def test_bind_last_endpoint_and_errno_as_libzmq(endpoint, ipv6):
    agree(_bind_le(endpoint, ipv6))


@needs_ipv6
@pytest.mark.parametrize("endpoint, ipv6", BIND_CASES_V6)
def test_bind_ipv6_last_endpoint_and_errno_as_libzmq(endpoint, ipv6):
    agree(_bind_le(endpoint, ipv6))


def test_last_endpoint_formats(ctx):
    s = make(ctx, purezmq, "PULL")
    s.bind("tcp://127.0.0.1:*")
    assert re.fullmatch(rb"tcp://127\.0\.0\.1:\d+", s.last_endpoint)
    s.bind("tcp://*:*")
    assert re.fullmatch(rb"tcp://0\.0\.0\.0:\d+", s.last_endpoint)
    if has_ipv6_loopback():
        s6 = make(ctx, purezmq, "PULL", ipv6=1)
        s6.bind("tcp://[::1]:*")
        assert re.fullmatch(rb"tcp://\[::1\]:\d+", s6.last_endpoint)


def _interfaces_with_ipv4() -> list[str]:
    """Interfaces with an IPv4 address (Linux SIOCGIFADDR).  One without would be looked up
    as a host name next, by libzmq too: a DNS query, which these tests never send."""
    try:
        import fcntl
    except ImportError:
        return ["lo"]
    names = []
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _, name in socket.if_nameindex():
            try:
                fcntl.ioctl(probe.fileno(), 0x8915, name.encode().ljust(40, b"\0"))
            except OSError:
                continue
            names.append(name)
    finally:
        probe.close()
    return names


@pytest.mark.parametrize("name", _interfaces_with_ipv4())
def test_every_interface_name_binds_like_libzmq(name):
    """Each interface of this host, by name: the same address as libzmq's getifaddrs()
    lookup.  (Binding asks the kernel only; nothing is sent.)"""
    agree(_bind_le(f"tcp://{name}:*", 0))


@pytest.mark.parametrize("ipv6", [0, 1])
def test_interface_name_bind_carries_traffic(ctx, ipv6):
    if ipv6 and not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    pull = make(ctx, purezmq, "PULL", ipv6=ipv6)
    pull.bind("tcp://lo:*")
    le = pull.last_endpoint.decode()
    assert le.startswith("tcp://[::1]:" if ipv6 else "tcp://127.0.0.1:")
    push = make(ctx, purezmq, "PUSH", ipv6=ipv6)
    push.connect(le)
    roundtrip(push, pull)


def test_bind_errors_eaddrinuse_eaddrnotavail_einval(ctxs):
    need_pyzmq()
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        for endpoint, code in [
            (f"tcp://127.0.0.1:{port}", "EADDRINUSE"),
            (f"tcp://*:{port}", "EADDRINUSE"),
            ("tcp://203.0.113.7:*", "EADDRNOTAVAIL"),
            ("tcp://127.0.0.1:x", "EINVAL"),
            ("tcp:/127.0.0.1:1", "EINVAL"),
        ]:
            for lib in LIBS:
                s = make(ctxs, lib, "PULL")
                assert outcome(lib, lambda lib, s=s, e=endpoint: s.bind(e)) == ("err", code)
    finally:
        holder.close()


def test_failed_bind_leaves_nothing_bound(ctxs):
    """After a failed bind the socket works, LAST_ENDPOINT is the last good one, and no
    port nor file is held (libzmq alike)."""
    for lib in LIBS:
        s = make(ctxs, lib, "PULL")
        s.bind("tcp://127.0.0.1:*")
        good = s.last_endpoint
        port = free_port()
        for bad in (f"tcp://203.0.113.7:{port}", "tcp://ifx@0:*", "tcp://[::1]:*", "foo://x"):
            with pytest.raises(lib.ZMQError):
                s.bind(bad)
            assert s.last_endpoint == good
        with pytest.raises(lib.ZMQError) as e:
            s.unbind(f"tcp://203.0.113.7:{port}")
        assert e.value.errno == errno.ENOENT
        push = make(ctxs, lib, "PUSH")
        push.connect(good.decode())
        roundtrip(push, s)
    # BINDTODEVICE fails after the socket exists: it must be closed, its port free.
    if os.geteuid() != 0:
        return
    for lib in LIBS:
        port = free_port()
        s = make(ctxs, lib, "PULL", bindtodevice=b"ifx@0")
        assert outcome(lib, lambda lib, s=s, port=port: s.bind(f"tcp://127.0.0.1:{port}")) == (
            "err",
            "ENODEV",
        )
        assert can_bind_tcp("127.0.0.1", port)


# == tcp: IPv6 ===================================================================================
@needs_ipv6
def test_ipv6_dual_stack_wildcard(ctxs):
    """IPV6=1 and tcp://*:* listen on [::], which IPv4 clients reach too; the peer address of
    an IPv4 client is IPv4-mapped.  The same with libzmq on either side."""
    need_pyzmq()
    for server_lib in LIBS:
        pull = make(ctxs, server_lib, "PULL", ipv6=1)
        pull.bind("tcp://*:*")
        le = pull.last_endpoint.decode()
        assert no_port(le) == "tcp://[::]:PORT"
        port = le.rsplit(":", 1)[1]
        peers = {}
        for client_lib in LIBS:
            for ipv6, host in ((0, "127.0.0.1"), (1, "127.0.0.1"), (1, "[::1]")):
                push = make(ctxs, client_lib, "PUSH", ipv6=ipv6)
                push.connect(f"tcp://{host}:{port}")
                tag = f"{client_lib.__name__} ipv6={ipv6} {host}"
                push.send(tag.encode())
                frame = pull.recv(copy=False)
                peers[frame.bytes.decode()] = frame.get("Peer-Address")
                push.close()
        assert len(peers) == 3 * len(LIBS)
        for tag, address in peers.items():
            assert address == ("::1" if "[::1]" in tag else "::ffff:127.0.0.1"), (tag, address)


@needs_ipv6
def test_ipv6_literal_needs_the_ipv6_option(ctxs):
    """Without IPV6 an IPv6 address is unusable: bind is ENODEV, connect is accepted but
    never connects (libzmq resolves IPv4 only); IPV4ONLY=0 is IPV6=1."""
    need_pyzmq()
    for lib in LIBS:
        pull = make(ctxs, lib, "PULL", ipv6=1)
        pull.bind("tcp://[::1]:*")
        le = pull.last_endpoint.decode()
        v4only = make(ctxs, lib, "PUSH")
        v4only.connect(le)
        v4only.send(b"never", lib.DONTWAIT)
        alias = make(ctxs, lib, "PUSH", ipv4only=0)
        assert alias.ipv6 == 1
        alias.connect(le)
        alias.send(b"via IPV4ONLY=0")
        assert pull.recv() == b"via IPV4ONLY=0"
        assert recv_or_none(pull, lib, 300) is None


@pytest.mark.parametrize(
    "option, value",
    [
        ("TCP_KEEPALIVE", 2),
        ("TCP_KEEPALIVE", -2),
        ("TCP_KEEPALIVE", 0),
        ("TCP_KEEPALIVE_IDLE", -2),
        ("TCP_KEEPALIVE_CNT", -1),
        ("TCP_KEEPALIVE_INTVL", 0),
        ("TOS", -1),
        ("TOS", 0x1FF),
        ("IPV6", 2),
        ("IPV6", -1),
        ("IPV4ONLY", 2),
        ("IPV4ONLY", 0),
        ("TCP_MAXRT", -1),
        ("TCP_MAXRT", 1000),
    ],
)
def test_tcp_option_values_as_libzmq(option, value):
    def run(lib):
        s = lib.Context.instance().socket(lib.PAIR)
        try:
            s.setsockopt(getattr(lib, option), value)
            return (s.getsockopt(getattr(lib, option)), s.getsockopt(lib.IPV6))
        finally:
            s.close()

    agree(run)


# == tcp: connect ================================================================================
CONNECT_CASES = [
    "tcp://localhost:5",
    "tcp://127.0.0.1:5",
    "tcp://[::1]:5",
    "tcp://127.0.0.1:0;127.0.0.1:5",
    "tcp://lo:0;127.0.0.1:5",
    "tcp://127.0.0.1:*",  # EINVAL: no wildcard port on connect
    "tcp://*:5",
    "tcp://a b:5",  # EINVAL: libzmq's character check
    "tcp://_x:5",
    "tcp://;127.0.0.1:5",
    "tcp://127.0.0.1",
    "tcp://127.0.0.1:x5",
]


@pytest.mark.parametrize("endpoint", CONNECT_CASES)
def test_connect_accepts_and_refuses_as_libzmq(endpoint):
    """connect() only checks the syntax (resolution and failures happen later, quietly).
    Port 5 (rje) on 127.0.0.1: nothing listens, attempts are refused locally."""

    def run(lib):
        s = lib.Context.instance().socket(lib.PUSH)
        s.linger = 0
        try:
            s.connect(endpoint)
            return s.last_endpoint.decode()
        finally:
            s.close()

    agree(run)


def test_connect_to_localhost_and_disconnect_by_the_same_name(ctxs):
    need_pyzmq()
    for lib in LIBS:
        pull = make(ctxs, lib, "PULL")
        pull.bind("tcp://127.0.0.1:*")
        port = pull.last_endpoint.decode().rsplit(":", 1)[1]
        push = make(ctxs, lib, "PUSH")
        push.connect(f"tcp://localhost:{port}")
        roundtrip(push, pull, b"via localhost")
        assert outcome(
            lib, lambda lib, push=push, port=port: push.disconnect(f"tcp://127.0.0.1:{port}")
        ) == (
            "err",
            "ENOENT",
        )  # connections are known by the endpoint as given
        push.disconnect(f"tcp://localhost:{port}")


SOURCE_CASES = [
    ("tcp://127.0.0.1:{sp};127.0.0.1:{p}", 0, "127.0.0.1", True),
    ("tcp://127.0.0.2:0;127.0.0.1:{p}", 0, "127.0.0.2", False),
    ("tcp://127.0.0.2:*;127.0.0.1:{p}", 0, "127.0.0.2", False),
    ("tcp://lo:0;127.0.0.1:{p}", 0, "127.0.0.1", False),
    ("tcp://[::1]:0;[::1]:{p}", 1, "::1", False),
]


@pytest.mark.parametrize("fmt, ipv6, source, fixed_port", SOURCE_CASES)
def test_connect_from_a_source_address(ctxs, fmt, ipv6, source, fixed_port):
    if ipv6 and not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    for lib in LIBS:
        server = socket.socket(family)
        server.bind(("::1" if ipv6 else "127.0.0.1", 0))
        server.listen()
        server.settimeout(5)
        sport = free_port("::1" if ipv6 else "127.0.0.1", family)
        push = make(ctxs, lib, "PUSH", ipv6=ipv6)
        push.connect(fmt.format(p=server.getsockname()[1], sp=sport))
        try:
            conn, peer = server.accept()
        except TimeoutError:
            pytest.fail(f"{lib.__name__} did not connect")
        conn.close()
        server.close()
        push.close()
        assert peer[0] == source, lib.__name__
        if fixed_port:
            assert peer[1] == sport, lib.__name__


def test_source_address_without_port_and_zmtp_peer_address(ctxs):
    """purezmq takes ``127.0.0.2;`` as ``127.0.0.2:0;`` (libzmq 4.3.5 never connects)."""
    pull = make(ctxs, purezmq, "PULL")
    pull.bind("tcp://127.0.0.1:*")
    for src in ("127.0.0.2", "127.0.0.2:0"):
        push = make(ctxs, purezmq, "PUSH")
        push.connect(f"tcp://{src};{pull.last_endpoint.decode()[len('tcp://') :]}")
        push.send(src.encode())
        frame = pull.recv(copy=False)
        assert frame.bytes == src.encode()
        assert frame.get("Peer-Address") == "127.0.0.2"
    if pyzmq is not None:  # and libzmq sees the source of purezmq's connection
        ref = make(ctxs, pyzmq, "PULL")
        ref.bind("tcp://127.0.0.1:*")
        push = make(ctxs, purezmq, "PUSH")
        push.connect(f"tcp://127.0.0.2:0;{ref.last_endpoint.decode()[len('tcp://') :]}")
        push.send(b"to libzmq")
        frame = ref.recv(copy=False)
        assert frame.bytes == b"to libzmq" and frame.get("Peer-Address") == "127.0.0.2"


# == tcp: options on the kernel sockets ===========================================================
def _kernel_sockets(port: int) -> dict[str, list[socket.socket]]:
    """This process's tcp sockets on ``port``, by role (listener, accepted, connected): dups
    of the fds found in /proc/self/fd; close them."""
    found: dict[str, list[socket.socket]] = {"listener": [], "accepted": [], "connected": []}
    inodes = {}  # one fd per socket ("socket:[inode]"): not our own dups of it
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:"):
            inodes.setdefault(link, int(fd))
    for fd in inodes.values():
        try:
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            if s.family not in (socket.AF_INET, socket.AF_INET6) or s.type != socket.SOCK_STREAM:
                s.close()
                continue
            local = s.getsockname()[1]
            try:
                peer = s.getpeername()[1]
            except OSError:
                peer = None
        except OSError:
            s.close()
            continue
        if local == port and peer is None:
            found["listener"].append(s)
        elif local == port:
            found["accepted"].append(s)
        elif peer == port:
            found["connected"].append(s)
        else:
            s.close()
    return found


_KERNEL_OPTIONS = [
    ("SO_KEEPALIVE", socket.SOL_SOCKET, "SO_KEEPALIVE"),
    ("TCP_KEEPIDLE", socket.IPPROTO_TCP, "TCP_KEEPIDLE"),
    ("TCP_KEEPINTVL", socket.IPPROTO_TCP, "TCP_KEEPINTVL"),
    ("TCP_KEEPCNT", socket.IPPROTO_TCP, "TCP_KEEPCNT"),
    ("TCP_USER_TIMEOUT", socket.IPPROTO_TCP, "TCP_USER_TIMEOUT"),
    ("TCP_NODELAY", socket.IPPROTO_TCP, "TCP_NODELAY"),
    ("IP_TOS", socket.IPPROTO_IP, "IP_TOS"),
    ("IPV6_TCLASS", socket.IPPROTO_IPV6, "IPV6_TCLASS"),
]


def _options_of(s: socket.socket) -> dict:
    got = {}
    for label, level, name in _KERNEL_OPTIONS:
        if not hasattr(socket, name) or (label == "IPV6_TCLASS" and s.family != socket.AF_INET6):
            continue
        try:
            got[label] = s.getsockopt(level, getattr(socket, name))
        except OSError:
            got[label] = "unsupported"
    if hasattr(socket, "SO_BINDTODEVICE"):
        got["SO_BINDTODEVICE"] = s.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16)
        got["SO_BINDTODEVICE"] = got["SO_BINDTODEVICE"].rstrip(b"\0")
    return got


OPTION_CASES = {
    "defaults": {},
    "keepalive": {
        "tcp_keepalive": 1,
        "tcp_keepalive_idle": 33,
        "tcp_keepalive_intvl": 7,
        "tcp_keepalive_cnt": 4,
    },
    "keepalive-off": {"tcp_keepalive": 0, "tcp_keepalive_idle": 33},
    "tos-maxrt": {"tos": 0x28, "tcp_maxrt": 1234},
    "bindtodevice": {"bindtodevice": b"lo", "tos": 0x10},
}


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("ipv6", [0, 1], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("case", list(OPTION_CASES))
def test_tcp_options_reach_the_kernel_sockets_as_with_libzmq(ctxs, case, ipv6):
    """TCP_KEEPALIVE(_IDLE/_CNT/_INTVL), TOS, TCP_MAXRT, BINDTODEVICE, as getsockopt() on the
    listening, accepted and connected sockets sees them: the same for purezmq and libzmq."""
    need_pyzmq()
    options = OPTION_CASES[case]
    if "bindtodevice" in options and os.geteuid() != 0:
        pytest.skip("SO_BINDTODEVICE needs root (CAP_NET_RAW)")
    if ipv6 and not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    seen = {}
    for lib in LIBS:
        pull = make(ctxs, lib, "PULL", ipv6=ipv6, **options)
        pull.bind("tcp://[::1]:*" if ipv6 else "tcp://127.0.0.1:*")
        le = pull.last_endpoint.decode()
        push = make(ctxs, lib, "PUSH", ipv6=ipv6, **options)
        push.connect(le)
        roundtrip(push, pull)
        by_role = _kernel_sockets(int(le.rsplit(":", 1)[1]))
        try:
            assert {role: len(socks) for role, socks in by_role.items()} == {
                "listener": 1,
                "accepted": 1,
                "connected": 1,
            }, lib.__name__
            seen[lib] = {role: _options_of(socks[0]) for role, socks in by_role.items()}
        finally:
            for socks in by_role.values():
                for s in socks:
                    s.close()
        push.close()
        pull.close()
    assert seen[purezmq] == seen[pyzmq], (seen[purezmq], seen[pyzmq])
    # And what the options mean, spelled out on purezmq's side.
    connected = seen[purezmq]["connected"]
    assert connected["TCP_NODELAY"] == 1
    if case == "keepalive":
        assert connected["SO_KEEPALIVE"] == 1
        assert (connected["TCP_KEEPIDLE"], connected["TCP_KEEPINTVL"]) == (33, 7)
        assert connected["TCP_KEEPCNT"] == 4
    if case == "tos-maxrt":
        assert connected["IP_TOS"] == 0x28 and connected["TCP_USER_TIMEOUT"] == 1234
        if ipv6:
            assert connected["IPV6_TCLASS"] == 0x28
    if case == "bindtodevice":
        assert all(seen[purezmq][r]["SO_BINDTODEVICE"] == b"lo" for r in seen[purezmq])


def test_white_box_listener_and_engine_sockets(ctx):
    """The same, read from purezmq's own objects (Listener.sock, the engines' sockets)."""
    pull = make(ctx, purezmq, "PULL", tcp_keepalive=1, tcp_keepalive_idle=45, tos=0x20)
    pull.bind("tcp://127.0.0.1:*")
    le = pull.last_endpoint.decode()
    push = make(ctx, purezmq, "PUSH", tcp_keepalive=1, tcp_keepalive_cnt=3, tcp_maxrt=2500)
    push.connect(le)
    roundtrip(push, pull)
    (listener,) = pull._endpoints[le]
    (session,) = push._endpoints[le]
    wait_for(lambda: len(listener.engines) == 1, what="the accepted engine")
    (accepted,) = listener.engines
    assert listener.sock.getsockopt(socket.IPPROTO_IP, socket.IP_TOS) == 0x20
    assert accepted.sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert accepted.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 45
    assert session.engine.sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert session.engine.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
    if hasattr(socket, "TCP_USER_TIMEOUT"):
        assert session.engine.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 2500


@pytest.mark.skipif(os.geteuid() != 0, reason="SO_BINDTODEVICE needs root (CAP_NET_RAW)")
def test_bindtodevice(ctxs):
    """Bound to "lo", loopback traffic flows; an unknown device fails bind with ENODEV and
    leaves connect retrying quietly (libzmq alike)."""
    for lib in LIBS:
        pull = make(ctxs, lib, "PULL", bindtodevice=b"lo")
        pull.bind("tcp://127.0.0.1:*")
        le = pull.last_endpoint.decode()
        push = make(ctxs, lib, "PUSH", bindtodevice=b"lo")
        push.connect(le)
        roundtrip(push, pull, b"on lo")
        bad = make(ctxs, lib, "PUSH", bindtodevice=b"ifx@0")
        bad.connect(le)  # no error: the connecter retries
        bad.send(b"never", lib.DONTWAIT)
        assert recv_or_none(pull, lib, 300) is None
        bad_pull = make(ctxs, lib, "PULL", bindtodevice=b"ifx@0")
        with pytest.raises(lib.ZMQError) as e:
            bad_pull.bind("tcp://127.0.0.1:*")
        assert e.value.errno == errno.ENODEV


# == tcp: unbind / disconnect ====================================================================
@pytest.mark.parametrize("ipv6", [0, 1])
def test_unbind_wildcard_by_last_endpoint(ctxs, ipv6):
    if ipv6 and not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    for lib in LIBS:
        s = make(ctxs, lib, "PULL", ipv6=ipv6)
        s.bind("tcp://*:*")
        le = s.last_endpoint
        host = "::" if ipv6 else "0.0.0.0"
        assert le.startswith(b"tcp://[::]:" if ipv6 else b"tcp://0.0.0.0:")
        # libzmq keys a bind by its LAST_ENDPOINT: the wildcard spelling is unknown.
        for spelling in ("tcp://*:*", "tcp://*:" + le.decode().rsplit(":", 1)[1]):
            assert outcome(lib, lambda lib, s=s, sp=spelling: s.unbind(sp)) == ("err", "ENOENT")
        s.unbind(le)  # bytes, as pyzmq takes it
        port = int(le.rsplit(b":", 1)[1])
        family = socket.AF_INET6 if ipv6 else socket.AF_INET
        wait_for(
            lambda h=host, p=port, f=family: can_bind_tcp(h, p, f), what="the port to be released"
        )


def test_unbind_resolves_a_host_name_as_libzmq(ctxs):
    """unbind("tcp://localhost:P") finds the bind of tcp://127.0.0.1:P (libzmq resolves an
    unknown endpoint before giving up, as a connect would: a wildcard does not resolve)."""
    need_pyzmq()
    for lib in LIBS:
        s = make(ctxs, lib, "PULL")
        s.bind("tcp://127.0.0.1:*")
        port = s.last_endpoint.decode().rsplit(":", 1)[1]
        assert outcome(lib, lambda lib, s=s, port=port: s.unbind(f"tcp://*:{port}")) == (
            "err",
            "ENOENT",
        )
        s.unbind(f"tcp://localhost:{port}")
        assert outcome(lib, lambda lib, s=s, port=port: s.unbind(f"tcp://127.0.0.1:{port}")) == (
            "err",
            "ENOENT",
        )


UNKNOWN_ENDPOINTS = [
    ("unbind", "tcp://127.0.0.1:1"),
    ("unbind", "ipc:///nonexistent/purezmq-test"),
    ("unbind", "inproc://nobody"),
    ("disconnect", "tcp://127.0.0.1:1"),
    ("disconnect", "ipc://@nobody"),
    ("disconnect", "inproc://nobody"),
    ("unbind", "tcp://127.0.0.1:*"),
    ("disconnect", "not an endpoint"),  # EINVAL, before the lookup
    ("unbind", "tcp//127.0.0.1:1"),
    ("unbind", "foo://bar"),  # EPROTONOSUPPORT
    # (ws:// is no longer unknown to purezmq, while pyzmq's wheels lack it: test_ws.py)
]


@pytest.mark.parametrize("method, endpoint", UNKNOWN_ENDPOINTS)
def test_unbind_disconnect_of_unknown_endpoints(method, endpoint):
    def run(lib):
        s = lib.Context.instance().socket(lib.PUSH)
        s.linger = 0
        try:
            s.bind("tcp://127.0.0.1:*")
            s.connect("inproc://somebody")
            getattr(s, method)(endpoint)
        finally:
            s.close()

    assert agree(run)[0] == "err"


# == malformed endpoints and unknown transports ===================================================
MALFORMED = [
    "tcp://",
    "tcp:/127.0.0.1:5555",
    "://127.0.0.1:5555",
    "127.0.0.1:5555",
    "tcp://127.0.0.1",
    "tcp://127.0.0.1:port",
    "ipc://",
    "inproc://",
    "foo://bar",
    "TCP://127.0.0.1:5555",
    "norm://x",
    "vmci://1:2",
    # (ws:// and wss://, which purezmq has and pyzmq's wheels lack: test_ws.py)
]


@pytest.mark.parametrize("method", ["bind", "connect"])
@pytest.mark.parametrize("endpoint", MALFORMED)
def test_malformed_endpoints_and_unknown_transports(method, endpoint):
    def run(lib):
        s = lib.Context.instance().socket(lib.PAIR)
        s.linger = 0
        try:
            getattr(s, method)(endpoint)
        finally:
            s.close()

    assert agree(run)[0] == "err"


# == ipc ==========================================================================================
def test_ipc_wildcard_picks_a_fresh_path(ctxs, ipc_dir, monkeypatch):
    monkeypatch.chdir(ipc_dir)  # libzmq makes its directory relative to the cwd
    for lib in LIBS:
        pull = make(ctxs, lib, "PULL")
        pull.bind("ipc://*")
        pull.bind("ipc://*")
        le = pull.last_endpoint.decode()
        assert le.startswith("ipc://") and le != "ipc://*"
        path = le[len("ipc://") :]
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        push = make(ctxs, lib, "PUSH")
        push.connect(le)
        roundtrip(push, pull)
        assert outcome(lib, lambda lib, pull=pull: pull.unbind("ipc://*")) == ("err", "ENOENT")
        pull.unbind(le)
        tmpdir = os.path.dirname(path)
        wait_for(lambda d=tmpdir: not os.path.exists(d), what="ipc://* cleanup")
        pull.close()  # the other ipc://*: file and directory go with the socket


def test_ipc_stale_socket_file_of_a_dead_process_is_replaced(ctxs, ipc_dir):
    for lib in LIBS:
        path = os.path.join(ipc_dir, f"stale-{lib.__name__}")
        code = textwrap.dedent(
            f"""
            import os, socket
            s = socket.socket(socket.AF_UNIX)
            s.bind({path!r})
            s.listen()
            os._exit(0)  # dies listening: the file stays
            """
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        pull = make(ctxs, lib, "PULL")
        pull.bind(f"ipc://{path}")
        push = make(ctxs, lib, "PUSH")
        push.connect(f"ipc://{path}")
        roundtrip(push, pull, b"over the replaced file")


def test_ipc_path_with_a_live_listener_or_no_socket_is_kept(ctxs, ipc_dir):
    """purezmq refuses (EADDRINUSE) to take over a path a live socket listens on, or a path
    that is no socket; libzmq would unlink either."""
    live = os.path.join(ipc_dir, "live")
    owner_lib = pyzmq or purezmq
    owner = make(ctxs, owner_lib, "PULL")
    owner.bind(f"ipc://{live}")
    thief = make(ctxs, purezmq, "PULL")
    with pytest.raises(purezmq.ZMQError) as e:
        thief.bind(f"ipc://{live}")
    assert e.value.errno == errno.EADDRINUSE
    push = make(ctxs, owner_lib, "PUSH")
    push.connect(f"ipc://{live}")
    roundtrip(push, owner, b"still the owner's")
    mine = make(ctxs, purezmq, "PULL")
    mine.bind(f"ipc://{os.path.join(ipc_dir, 'mine')}")
    with pytest.raises(purezmq.ZMQError) as e:  # one of this process's own, too
        thief.bind(f"ipc://{os.path.join(ipc_dir, 'mine')}")
    assert e.value.errno == errno.EADDRINUSE
    regular = os.path.join(ipc_dir, "regular-file")
    with open(regular, "w") as f:
        f.write("data")
    with pytest.raises(purezmq.ZMQError) as e:
        thief.bind(f"ipc://{regular}")
    assert e.value.errno == errno.EADDRINUSE
    with open(regular) as f:
        assert f.read() == "data"


def test_ipc_file_removed_on_unbind_and_close_and_path_reusable_at_once(ctx, ipc_dir):
    path = os.path.join(ipc_dir, "reuse")
    a = make(ctx, purezmq, "PULL")
    a.bind(f"ipc://{path}")
    assert os.path.exists(path)
    a.unbind(f"ipc://{path}")
    a.bind(f"ipc://{path}")  # at once: the unbound listener's close is still pending
    a.close()
    b = make(ctx, purezmq, "PULL")
    b.bind(f"ipc://{path}")  # at once again, after close
    time.sleep(0.2)  # a's listeners are closed by now: they must have left b's file alone
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    push = make(ctx, purezmq, "PUSH")
    push.connect(f"ipc://{path}")
    roundtrip(push, b, b"to b")
    b.close()
    wait_for(lambda: not os.path.exists(path), what="the file to go with the socket")


def test_ipc_path_taken_the_instant_the_old_listener_closes_keeps_the_new_file(ctx, ipc_dir):
    """The worst moment: the old listener's socket has just closed, freeing its inode,
    which ext4 hands straight to the newcomer's file; the old listener must not then
    unlink that file as its own."""
    path = os.path.join(ipc_dir, "instant")
    a = make(ctx, purezmq, "PULL")
    a.bind(f"ipc://{path}")
    (listener,) = [obj for obj in a._io_objects if hasattr(obj, "released")]
    taker = socket.socket(socket.AF_UNIX)

    class TakeOnClose:  # the listener's socket, whose close lets another socket in
        def __init__(self, sock: socket.socket) -> None:
            self._sock = sock

        def __getattr__(self, name: str):
            return getattr(self._sock, name)

        def close(self) -> None:
            self._sock.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            taker.bind(path)
            taker.listen()

    listener.sock = TakeOnClose(listener.sock)
    a.close(linger=0)
    wait_for(lambda: listener.closed, what="the old listener to close")
    time.sleep(0.05)
    try:
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        probe = socket.socket(socket.AF_UNIX)
        probe.settimeout(5)
        probe.connect(path)  # the taker's file
        probe.close()
        conn, _ = taker.accept()
        conn.close()
    finally:
        taker.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract names are Linux's")
def test_ipc_abstract_names(ctxs, ipc_dir, monkeypatch):
    monkeypatch.chdir(ipc_dir)
    name = f"purezmq-test-{os.getpid()}"
    for server_lib in LIBS:
        pull = make(ctxs, server_lib, "PULL")
        pull.bind(f"ipc://@{name}-{server_lib.__name__}")
        assert pull.last_endpoint == f"ipc://@{name}-{server_lib.__name__}".encode()
        for client_lib in LIBS:  # and across the libraries: the same abstract address
            push = make(ctxs, client_lib, "PUSH")
            push.connect(f"ipc://@{name}-{server_lib.__name__}")
            roundtrip(push, pull, client_lib.__name__.encode())
    assert not any(n.startswith("@") for n in os.listdir(ipc_dir)), "no file for @names"


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_ipc_name_length_limit(ipc_dir, kind):
    """sun_path holds 107 bytes and a NUL: longer is ENAMETOOLONG, on bind and connect."""

    def endpoints(tag: str) -> tuple[str, str]:
        if kind == "path":
            prefix = f"{ipc_dir}/{tag}"
            fits = "ipc://" + prefix + "x" * (107 - len(prefix))
        else:
            fits = f"ipc://@{tag}" + "x" * (106 - len(tag))
        return fits, fits + "x"

    def run(lib):
        fits, too_long = endpoints(lib.__name__[:2])
        s = lib.Context.instance().socket(lib.PAIR)
        s.linger = 0
        results = []
        try:
            for method, endpoint in (("bind", fits), ("bind", too_long), ("connect", too_long)):
                results.append(
                    outcome(lib, lambda lib, m=method, e=endpoint: getattr(s, m)(e) and None)
                )
            assert len(s.last_endpoint) == len(fits)
        finally:
            s.close()
        return results

    assert agree(run) == (
        "ok",
        [("ok", None), ("err", "ENAMETOOLONG"), ("err", "ENAMETOOLONG")],
    )


_EACCES_CHILD = """
import os, sys
sys.path.insert(0, {src!r})
import purezmq
libs = [purezmq]
try:
    import zmq
    libs.append(zmq)
except ImportError:
    pass
for lib in libs:  # what bind() imports lazily, while this may still read root's files
    c = lib.Context()
    s = c.socket(lib.PULL)
    s.bind("ipc://{warm}-" + lib.__name__)
    s.close(linger=0)
    c.term()
os.setgid(65534)
os.setuid(65534)
for lib in libs:
    c = lib.Context()
    s = c.socket(lib.PULL)
    s.linger = 0
    try:
        s.bind({endpoint!r})
        print(lib.__name__, "ok")
    except lib.ZMQError as e:
        print(lib.__name__, e.errno)
    s.close()
    c.term()
"""


def test_ipc_bind_without_permission_is_eacces(ctxs, tmp_path):
    """As nobody (a child that drops root once its imports are done) when root; as
    ourselves in a read-only directory otherwise."""
    locked = tmp_path / "locked"
    locked.mkdir()
    endpoint = f"ipc://{locked}/sock"
    if os.geteuid() != 0:
        locked.chmod(0o500)
        try:
            for lib in LIBS:
                s = make(ctxs, lib, "PULL")
                assert outcome(lib, lambda lib, s=s: s.bind(endpoint)) == ("err", "EACCES")
        finally:
            locked.chmod(0o700)
        return
    locked.chmod(0o755)  # root's: nobody may not create files in it
    tmp_path.chmod(0o755)
    src = os.path.dirname(os.path.dirname(purezmq.__file__))
    code = _EACCES_CHILD.format(src=src, warm=f"{tmp_path}/warm", endpoint=endpoint)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    if run.returncode != 0 and "PermissionError" in run.stderr and "setuid" in run.stderr:
        pytest.skip("cannot setuid to nobody here")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:-1] == [f"{lib.__name__} {errno.EACCES}" for lib in LIBS]
    assert not os.path.exists(f"{locked}/sock")


def test_ipc_connect_to_a_missing_path_retries_quietly(ctxs, ipc_dir):
    for lib in LIBS:
        path = os.path.join(ipc_dir, f"later-{lib.__name__}")
        push = make(ctxs, lib, "PUSH")
        push.connect(f"ipc://{path}")  # nobody there yet: no error
        push.connect("ipc:///nonexistent-dir/purezmq/sock")  # nor in a missing directory
        push.send(b"queued")
        time.sleep(0.3)  # a few refused attempts
        pull = make(ctxs, lib, "PULL")
        pull.bind(f"ipc://{path}")
        assert pull.recv() == b"queued"


# == inproc =======================================================================================
@pytest.mark.parametrize("sndhwm, rcvhwm", [(5, 3), (1, 1), (5, 0), (0, 3)])
def test_inproc_hwm_is_the_sum_of_both_sides(sndhwm, rcvhwm):
    """Bound first: one pipe of SNDHWM + RCVHWM (0: no limit).  Connected first: the
    connecter's SNDHWM until the bind (libzmq alike); then, in purezmq, the sum."""

    def fill(s, lib, limit=3000) -> int:
        n = 0
        while n < limit:
            try:
                s.send(b"x", lib.DONTWAIT)
            except lib.Again:
                break
            n += 1
        return n

    def run(lib):
        c = lib.Context()
        try:
            pull = c.socket(lib.PULL)
            pull.rcvhwm = rcvhwm
            push = c.socket(lib.PUSH)
            push.sndhwm = sndhwm
            pull.bind("inproc://hwm-bound-first")
            push.connect("inproc://hwm-bound-first")
            bound_first = fill(push, lib)
            late = c.socket(lib.PUSH)
            late.sndhwm = sndhwm
            late.connect("inproc://hwm-connected-first")
            before_bind = fill(late, lib)
            pull2 = c.socket(lib.PULL)
            pull2.rcvhwm = rcvhwm
            pull2.bind("inproc://hwm-connected-first")
            after_bind = fill(late, lib) if lib is purezmq else None
            return bound_first, before_bind, after_bind
        finally:
            c.destroy(linger=0)

    need_pyzmq()
    unlimited = 3000
    total = unlimited if sndhwm == 0 or rcvhwm == 0 else sndhwm + rcvhwm
    mine = run(purezmq)
    ref = run(pyzmq)
    assert mine[:2] == ref[:2]
    assert mine[0] == total
    assert mine[1] == (sndhwm or unlimited)
    if sndhwm:
        assert mine[2] == (unlimited if total == unlimited else total - sndhwm)


def test_inproc_routing_ids(ctxs):
    """Routing ids over inproc as libzmq: the binder ROUTER sees the connecter's ROUTING_ID
    whatever the order; ROUTER to ROUTER both ways; CONNECT_ROUTING_ID names the binder on
    the connecter's side; no ROUTING_ID: a generated 5-byte id."""
    need_pyzmq()

    def run(lib):
        c = lib.Context()
        try:
            seen = []
            r = c.socket(lib.ROUTER)
            r.bind("inproc://rid")
            d = c.socket(lib.DEALER)
            d.routing_id = b"bound-first"
            d.connect("inproc://rid")
            d.send(b"hi")
            seen.append(r.recv_multipart())
            d2 = c.socket(lib.DEALER)
            d2.routing_id = b"connected-first"
            d2.connect("inproc://rid-late")
            d2.send(b"early")
            r2 = c.socket(lib.ROUTER)
            r2.bind("inproc://rid-late")
            seen.append(r2.recv_multipart())
            ra = c.socket(lib.ROUTER)
            ra.routing_id = b"A"
            ra.bind("inproc://rr")
            rb = c.socket(lib.ROUTER)
            rb.routing_id = b"B"
            rb.router_mandatory = 1
            rb.connect("inproc://rr")
            rb.send_multipart([b"A", b"from B"])
            seen.append(ra.recv_multipart())
            ra.send_multipart([b"B", b"from A"])
            seen.append(rb.recv_multipart())
            rc = c.socket(lib.ROUTER)
            rc.router_mandatory = 1
            rc.setsockopt(lib.CONNECT_ROUTING_ID, b"alias-of-A")
            rc.connect("inproc://rr")
            rc.send_multipart([b"alias-of-A", b"via alias"])
            anon_id, body = ra.recv_multipart()
            seen.append([len(anon_id), anon_id[:1], body])
            ra.send_multipart([anon_id, b"back"])
            seen.append(rc.recv_multipart())
            return seen
        finally:
            c.destroy(linger=0)

    mine = run(purezmq)
    assert mine == run(pyzmq)
    assert mine[0] == [b"bound-first", b"hi"] and mine[1] == [b"connected-first", b"early"]
    assert mine[4] == [5, b"\x00", b"via alias"] and mine[5] == [b"alias-of-A", b"back"]


@pytest.mark.parametrize("linger", [0, -1, 100])
def test_inproc_close_delivers_what_was_sent(linger):
    """Messages written to an inproc pipe are the peer's, whatever the LINGER, also when
    the sender closes before anybody binds (libzmq alike)."""
    need_pyzmq()

    def run(lib):
        c = lib.Context()
        try:
            got = []
            pull = c.socket(lib.PULL)
            pull.bind("inproc://linger")
            push = c.socket(lib.PUSH)
            push.connect("inproc://linger")
            for i in range(3):
                push.send(b"%d" % i)
            push.close(linger=linger)
            got.append([pull.recv() for _ in range(3)])
            early = c.socket(lib.PUSH)
            early.connect("inproc://linger-later")
            for i in range(3):
                early.send(b"early %d" % i)
            early.close(linger=linger)
            pull2 = c.socket(lib.PULL)
            pull2.rcvtimeo = TIMEO
            pull2.bind("inproc://linger-later")
            got.append([pull2.recv() for _ in range(3)])
            return got
        finally:
            c.destroy(linger=0)

    assert (
        run(purezmq)
        == run(pyzmq)
        == [
            [b"0", b"1", b"2"],
            [b"early 0", b"early 1", b"early 2"],
        ]
    )


def test_inproc_names_are_per_context_and_conflicts_are_eaddrinuse():
    need_pyzmq()

    def run(lib):
        c1, c2 = lib.Context(), lib.Context()
        try:
            out = []
            a = c1.socket(lib.PULL)
            a.bind("inproc://shared")
            a2 = c1.socket(lib.PULL)
            out.append(outcome(lib, lambda lib: a2.bind("inproc://shared")))
            b = c2.socket(lib.PULL)
            out.append(outcome(lib, lambda lib: b.bind("inproc://shared") and None))  # other ctx
            p = c2.socket(lib.PUSH)
            p.connect("inproc://shared")
            p.send(b"to c2")
            out.append(b.recv())
            out.append(a.poll(100))  # c1's socket never sees c2's traffic
            a.unbind("inproc://shared")
            out.append(outcome(lib, lambda lib: a2.bind("inproc://shared") and None))  # free
            a2.close()
            a3 = c1.socket(lib.PULL)
            # After close (libzmq releases the name asynchronously: retried a while).
            deadline = time.monotonic() + 5
            while (res := outcome(lib, lambda lib: a3.bind("inproc://shared") and None))[1] == (
                "EADDRINUSE"
            ) and time.monotonic() < deadline:
                time.sleep(0.01)
            out.append(res)
            q = c1.socket(lib.PUSH)
            q.connect("inproc://shared")
            q.send(b"to a3")
            out.append(a3.recv())
            for s in (a, b, p, a3, q):
                s.close(linger=0)
            return out
        finally:
            c1.destroy(linger=0)
            c2.destroy(linger=0)

    mine = run(purezmq)
    assert mine == run(pyzmq)
    assert mine == [
        ("err", "EADDRINUSE"),
        ("ok", None),
        b"to c2",
        0,
        ("ok", None),
        ("ok", None),
        b"to a3",
    ]


def test_inproc_connect_to_a_name_bound_later(ctx):
    push = make(ctx, purezmq, "PUSH")
    push.connect("inproc://not-yet")
    push.send(b"queued before the bind")
    router_peer = make(ctx, purezmq, "DEALER", routing_id=b"dealer")
    router_peer.connect("inproc://router-not-yet")
    router_peer.send(b"hello router")
    pull = make(ctx, purezmq, "PULL")
    pull.bind("inproc://not-yet")
    assert pull.recv() == b"queued before the bind"
    router = make(ctx, purezmq, "ROUTER")
    router.bind("inproc://router-not-yet")
    assert router.recv_multipart() == [b"dealer", b"hello router"]
    router.send_multipart([b"dealer", b"hello dealer"])
    assert router_peer.recv() == b"hello dealer"
