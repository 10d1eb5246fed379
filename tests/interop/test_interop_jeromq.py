"""Interop with JeroMQ 0.3.6 (Debian's libjeromq-java), an independent ZeroMQ in Java.

JeroMQ 0.3.6 speaks ZMTP/2.0 only (RFC 15, NULL security), so these tests check the
backward-compatible handshake and framing against a peer that libzmq's code never touched.
Every pattern runs with the Java peer (``jeromq/JeroPeer.java``, a CLI) binding and with
the Python side binding, for purezmq and for pyzmq; the pyzmq runs prove the harness itself
against libzmq.  Contents are fixed on both sides and checked exactly; the Java peer prints
each message it receives as a ``MSG`` line of hex frames.
"""

from __future__ import annotations

import importlib
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

JEROMQ_JAR = Path("/usr/share/java/jeromq.jar")
PEER_SOURCE = Path(__file__).resolve().parent / "jeromq" / "JeroPeer.java"
JAVA = shutil.which("java")
JAVAC = shutil.which("javac")

if not (JAVA and JAVAC and JEROMQ_JAR.is_file()):
    pytest.skip(
        "needs java, javac and /usr/share/java/jeromq.jar (Debian: libjeromq-java)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.timeout(120)

COUNT = 20  # messages per test
IO_TIMEOUT_MS = 10_000  # RCVTIMEO / SNDTIMEO of the Python sockets (the Java peer's too)
PEER_WAIT_S = 60  # hard limit on a Java peer's run
PUB_INTERVAL_S = 0.005
PUB_MAX_S = 20.0


def _q(i: int) -> bytes:
    return b"q%d" % i


def push_message(i: int) -> list[bytes]:
    """Message ``i`` of a PUSH stream: one frame for even ``i``, two for odd (multipart)."""
    return [b"m%d" % i] if i % 2 == 0 else [b"m%d" % i, b"x%d" % i]


def check_topic_a(msgs: list[list[bytes]]) -> None:
    """Only ``A-<k>`` publications, in an unbroken run (a late joiner misses the start)."""
    assert all(len(m) == 1 and m[0].startswith(b"A-") for m in msgs), msgs
    first = int(msgs[0][0][2:])
    assert msgs == [[b"A-%d" % (first + i)] for i in range(len(msgs))]


# -- the Java side ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def peer_classes(tmp_path_factory) -> Path:
    """JeroPeer.java compiled once per session."""
    out = tmp_path_factory.mktemp("jeromq-classes")
    res = subprocess.run(
        [JAVAC, "-cp", str(JEROMQ_JAR), "-d", str(out), str(PEER_SOURCE)],
        capture_output=True,
        text=True,
        timeout=PEER_WAIT_S,
    )
    if res.returncode != 0:
        pytest.fail(f"javac failed:\n{res.stdout}{res.stderr}")
    return out


class JavaPeer:
    """One ``JeroPeer ROLE ENDPOINT COUNT`` process; stdout is read by a thread so a line
    (``PORT n``) can be awaited with a timeout."""

    def __init__(self, classes: Path, role: str, endpoint: str, count: int) -> None:
        self.role = role
        cp = f"{JEROMQ_JAR}{os.pathsep}{classes}"
        self.proc = subprocess.Popen(
            [JAVA, "-cp", cp, "JeroPeer", role, endpoint, str(count)],
            stdin=subprocess.PIPE,  # a JeroMQ PUB stops at "STOP" or EOF
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _read(self, stream, is_stdout: bool) -> None:
        for line in stream:
            line = line.rstrip("\n")
            (self.stdout if is_stdout else self.stderr).append(line)
            if is_stdout:
                self.lines.put(line)
        if is_stdout:
            self.lines.put(None)

    def port(self, timeout: float = 30.0) -> int:
        """The port announced by a binding peer."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.kill()
                pytest.fail(f"JeroPeer {self.role} announced no port: {self.output()}")
            if line.startswith("PORT "):
                return int(line.split()[1])

    def stop_publishing(self) -> None:
        try:
            self.proc.stdin.write("STOP\n")
            self.proc.stdin.flush()
        except OSError:
            pass  # it already exited

    def finish(self) -> list[list[bytes]]:
        """Waits for a clean exit (``DONE``, status 0); returns the messages it received."""
        try:
            rc = self.proc.wait(timeout=PEER_WAIT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"JeroPeer {self.role} still running after {PEER_WAIT_S} s")
        for t in self._readers:
            t.join(timeout=5)
        assert rc == 0 and self.stdout[-1:] == ["DONE"], (
            f"JeroPeer {self.role} failed (exit {rc}): {self.output()}"
        )
        return [
            [bytes.fromhex(h) for h in line[4:].split("|")]
            for line in self.stdout
            if line.startswith("MSG ")
        ]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        for t in self._readers:
            t.join(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass  # stdin of a dead process: nothing left to flush

    def output(self) -> str:
        return f"stdout={self.stdout[-20:]!r} stderr={self.stderr[-20:]!r}"


@pytest.fixture
def start_java(peer_classes):
    """``start_java(role, endpoint, count)``; every peer is killed at teardown, and its
    output printed (pytest shows it when the test failed)."""
    peers: list[JavaPeer] = []

    def start(role: str, endpoint: str, count: int = COUNT) -> JavaPeer:
        peer = JavaPeer(peer_classes, role, endpoint, count)
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.close()
        print(f"JeroPeer {peer.role}: {peer.output()}")


# -- the Python side --------------------------------------------------------------------------
@pytest.fixture(params=["purezmq", "pyzmq"])
def lib(request):
    """The Python library under test: purezmq, or pyzmq as the harness's reference."""
    if request.param == "pyzmq":
        return pytest.importorskip("zmq")
    return importlib.import_module("purezmq")


@pytest.fixture(params=[True, False], ids=["java_binds", "py_binds"])
def java_binds(request) -> bool:
    return request.param


@pytest.fixture
def make_socket(lib):
    """Sockets with send/receive timeouts, so a lost message fails a test instead of
    hanging it."""
    ctx = lib.Context()
    made = []

    def make(kind: int):
        sock = ctx.socket(kind)
        sock.setsockopt(lib.RCVTIMEO, IO_TIMEOUT_MS)
        sock.setsockopt(lib.SNDTIMEO, IO_TIMEOUT_MS)
        sock.setsockopt(lib.LINGER, 1000)
        made.append(sock)
        return sock

    yield make
    for sock in made:
        sock.close(linger=0)
    ctx.term()


@pytest.fixture
def link(lib, start_java, java_binds):
    """``link(sock, role)``: a Java peer of ``role`` wired to ``sock``, one binding on an
    ephemeral 127.0.0.1 port and the other connecting."""

    def connect(sock, role: str, count: int = COUNT) -> JavaPeer:
        if java_binds:
            peer = start_java(role, "bind", count)
            sock.connect(f"tcp://127.0.0.1:{peer.port()}")
            return peer
        sock.bind("tcp://127.0.0.1:*")
        return start_java(role, sock.getsockopt(lib.LAST_ENDPOINT).decode(), count)

    return connect


# -- the tests --------------------------------------------------------------------------------
def test_push_java_to_pull_py(lib, make_socket, link):
    pull = make_socket(lib.PULL)
    peer = link(pull, "push")
    got = [pull.recv_multipart() for _ in range(COUNT)]
    assert got == [push_message(i) for i in range(COUNT)]
    assert peer.finish() == []


def test_push_py_to_pull_java(lib, make_socket, link):
    push = make_socket(lib.PUSH)
    peer = link(push, "pull")
    for i in range(COUNT):
        push.send_multipart(push_message(i))
    assert peer.finish() == [push_message(i) for i in range(COUNT)]


def test_req_java_to_rep_py(lib, make_socket, link):
    rep = make_socket(lib.REP)
    peer = link(rep, "req")
    for i in range(COUNT):
        assert rep.recv_multipart() == [_q(i)]
        rep.send_multipart([_q(i), b"ok"])
    assert peer.finish() == [[_q(i), b"ok"] for i in range(COUNT)]


def test_req_py_to_rep_java(lib, make_socket, link):
    req = make_socket(lib.REQ)
    peer = link(req, "rep")
    for i in range(COUNT):
        req.send_multipart([_q(i)])
        assert req.recv_multipart() == [_q(i), b"ok"]
    assert peer.finish() == [[_q(i)] for i in range(COUNT)]


def test_dealer_java_to_router_py(lib, make_socket, link):
    """The ZMTP/2.0 greeting carries the DEALER's identity: the ROUTER must see b"J1"."""
    router = make_socket(lib.ROUTER)
    peer = link(router, "dealer")
    for i in range(COUNT):
        assert router.recv_multipart() == [b"J1", b"d%d" % i]
        router.send_multipart([b"J1", b"d%d" % i, b"ok"])
    assert peer.finish() == [[b"d%d" % i, b"ok"] for i in range(COUNT)]


def test_dealer_py_to_router_java(lib, make_socket, link):
    """Our routing id goes out in the ZMTP/2.0 greeting: JeroMQ's ROUTER must see b"P1"."""
    dealer = make_socket(lib.DEALER)
    dealer.setsockopt(lib.ROUTING_ID, b"P1")
    peer = link(dealer, "router")
    for i in range(COUNT):
        dealer.send_multipart([b"d%d" % i])
    for i in range(COUNT):
        assert dealer.recv_multipart() == [b"d%d" % i, b"ok"]
    assert peer.finish() == [[b"d%d" % i] for i in range(COUNT)]
    assert "ID 5031" in peer.stdout


def test_pub_java_to_sub_py(lib, make_socket, link):
    """A ZMTP/2.0 subscription is a message (\\x01 + topic): JeroMQ filters on it."""
    sub = make_socket(lib.SUB)
    sub.setsockopt(lib.SUBSCRIBE, b"A")
    # More than 20 s worth: the publisher streams until told to stop, so a late joiner gets some.
    peer = link(sub, "pub", 10_000)
    got = [sub.recv_multipart() for _ in range(COUNT)]
    peer.stop_publishing()
    check_topic_a(got)
    assert peer.finish() == []


def test_pub_py_to_sub_java(lib, make_socket, link):
    """JeroMQ's subscription (a ZMTP/2.0 message) must filter our publications."""
    pub = make_socket(lib.PUB)
    peer = link(pub, "sub")
    deadline = time.monotonic() + PUB_MAX_S
    i = 0
    while peer.proc.poll() is None and time.monotonic() < deadline:
        pub.send(b"A-%d" % i)
        time.sleep(PUB_INTERVAL_S)
        pub.send(b"B-%d" % i)
        time.sleep(PUB_INTERVAL_S)
        i += 1
    got = peer.finish()
    assert len(got) == COUNT
    check_topic_a(got)


def test_pair(lib, make_socket, link):
    """JeroMQ's PAIR sends, we echo each message back."""
    pair = make_socket(lib.PAIR)
    peer = link(pair, "pair")
    for i in range(COUNT):
        msg = pair.recv_multipart()
        assert msg == [b"p%d" % i]
        pair.send_multipart(msg)
    assert peer.finish() == [[b"p%d" % i] for i in range(COUNT)]
