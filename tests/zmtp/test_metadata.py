"""Peer metadata is validated as libzmq validates it (mechanism.cpp, ``parse_metadata``):
every ``Socket-Type`` the peer sends must fit ours, spelled exactly; a truncated list is a
protocol error; a repeated name keeps its first value, and a ROUTER routes by the last
``Identity``.  purezmq is stricter in a few cases, listed in STRICTER and in
docs/COMPATIBILITY.md (a peer that needs them is not a ZMTP peer).

The table is run three ways: on the sans-I/O connection, and over tcp against a bound
purezmq socket and a bound libzmq (pyzmq) one, from a peer that writes its bytes by hand.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest
import zmq as pyzmq
from hypothesis import given, settings
from hypothesis import strategies as st

import purezmq
from purezmq.zmtp import ZmtpError
from purezmq.zmtp.frames import encode_command
from purezmq.zmtp.metadata import decode_metadata, get_all, get_property

from .helpers import null_conn, raw_frame, raw_greeting

pytestmark = pytest.mark.timeout(60)


def prop(name: bytes, value: bytes) -> bytes:
    return bytes((len(name),)) + name + struct.pack(">I", len(value)) + value


def ready(props: bytes) -> bytes:
    return encode_command(b"READY", props)


# (id, READY properties sent to a PULL, accepted?)
CASES = [
    ("one Socket-Type", prop(b"Socket-Type", b"PUSH"), True),
    ("Socket-Type twice, both fit", prop(b"Socket-Type", b"PUSH") * 2, True),
    ("a wrong Socket-Type, then a right one",
     prop(b"Socket-Type", b"PUB") + prop(b"Socket-Type", b"PUSH"), False),
    ("a right Socket-Type, then a wrong one",
     prop(b"Socket-Type", b"PUSH") + prop(b"Socket-Type", b"PUB"), False),
    ("Socket-Type in lower case", prop(b"Socket-Type", b"push"), False),
    ("Socket-Type with a NUL", prop(b"Socket-Type", b"PUSH\x00"), False),
    ("an unknown property, repeated",
     prop(b"Socket-Type", b"PUSH") + prop(b"X-Foo", b"1") + prop(b"X-Foo", b"2"), True),
    ("one stray byte at the end", prop(b"Socket-Type", b"PUSH") + b"\x05", False),
    ("a value cut short", prop(b"Socket-Type", b"PUSH") + b"\x01A\x00\x00\x01\x00xy", False),
    ("a name cut short", prop(b"Socket-Type", b"PUSH") + b"\x09Identi", False),
]  # fmt: skip
# Accepted by libzmq, refused by purezmq.
STRICTER = [
    ("no Socket-Type", prop(b"Identity", b"x")),
    ("an empty name", prop(b"Socket-Type", b"PUSH") + prop(b"", b"v")),
    ("a name that is not ASCII", prop(b"Socket-Type", b"PUSH") + prop(b"\xff", b"v")),
    # libzmq stops at the value's length field and, with no byte left, takes the list
    ("a value announced but absent", prop(b"Socket-Type", b"PUSH") + b"\x01A\x00\x00\x01\x00"),
]


def _sans_io_accepts(props: bytes) -> bool:
    conn = null_conn("PULL", as_server=True)
    try:
        conn.receive_data(raw_greeting() + ready(props), 0.0)
    except ZmtpError:
        return False
    return conn.ready


@pytest.mark.parametrize(("props", "accepted"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_connection_checks_metadata_as_libzmq(props, accepted):
    assert _sans_io_accepts(props) == accepted


@pytest.mark.parametrize("props", [c[1] for c in STRICTER], ids=[c[0] for c in STRICTER])
def test_the_connection_is_stricter_than_libzmq_here(props):
    assert not _sans_io_accepts(props)


def test_a_repeated_name_keeps_its_first_value_and_lists_all():
    props = decode_metadata(prop(b"X-Foo", b"1") + prop(b"x-foo", b"2") + prop(b"X-Foo", b"3"))
    assert get_property(props, "X-Foo") == b"1"
    assert get_all(props, "x-FOO")[0] == b"1"
    assert sorted(get_all(props, "X-Foo")) == [b"1", b"2", b"3"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([b"Socket-Type", b"socket-type", b"Identity", b"X"]),
                          st.sampled_from([b"PUSH", b"PUB", b"push", b"", b"PULL"])),
                max_size=5))
def test_any_socket_type_list_is_accepted_only_if_every_value_fits(pairs):
    props = b"".join(prop(n, v) for n, v in pairs)
    types = [v for n, v in pairs if n.lower() == b"socket-type"]
    assert _sans_io_accepts(props) == (bool(types) and all(t == b"PUSH" for t in types))


# -- over tcp, against both libraries --------------------------------------------------------
def _handshake(c: socket.socket, props: bytes) -> None:
    """Greeting, then READY: message frames go in a later segment, since libzmq drops a
    connection whose first segment holds greeting, READY and a message all at once."""
    c.sendall(raw_greeting())
    got = b""
    while len(got) < 64:
        more = c.recv(4096)
        if not more:
            return
        got += more
    c.sendall(ready(props))
    time.sleep(0.2)


def _served(lib, props: bytes) -> bool:
    """Does a bound ``lib`` PULL take a message from a hand-written peer that sent ``props``?"""
    ctx = lib.Context()
    s = ctx.socket(lib.PULL)
    s.linger = 0
    try:
        port = s.bind_to_random_port("tcp://127.0.0.1")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            _handshake(c, props)
            try:
                c.sendall(raw_frame(b"hello"))
            except OSError:
                return False
            c.settimeout(0.02)
            end = time.monotonic() + 5
            while time.monotonic() < end:
                if s.poll(20):
                    return s.recv() == b"hello"
                try:
                    if c.recv(4096) == b"":
                        return bool(s.poll(50))  # closed: refused (unless it came first)
                except TimeoutError:
                    pass
                except OSError:
                    return False
            raise AssertionError("neither served nor refused in 5 s")
    finally:
        s.close(0)
        ctx.term()


@pytest.mark.parametrize(("props", "accepted"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("lib", [purezmq, pyzmq], ids=["purezmq", "pyzmq"])
def test_both_libraries_agree_over_tcp(lib, props, accepted):
    assert _served(lib, props) == accepted


@pytest.mark.parametrize("props", [c[1] for c in STRICTER], ids=[c[0] for c in STRICTER])
def test_stricter_cases_over_tcp(props):
    assert _served(pyzmq, props) and not _served(purezmq, props)


@pytest.mark.parametrize("lib", [purezmq, pyzmq], ids=["purezmq", "pyzmq"])
def test_a_router_routes_by_the_last_identity(lib):
    ctx = lib.Context()
    s = ctx.socket(lib.ROUTER)
    s.linger = 0
    s.rcvtimeo = 5000
    try:
        port = s.bind_to_random_port("tcp://127.0.0.1")
        props = prop(b"Socket-Type", b"DEALER") + prop(b"Identity", b"first") + prop(
            b"Identity", b"last"
        )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            _handshake(c, props)
            c.sendall(raw_frame(b"hi"))
            assert s.recv_multipart() == [b"last", b"hi"]
    finally:
        s.close(0)
        ctx.term()
