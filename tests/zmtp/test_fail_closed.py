"""The handshake fails closed: in each state, every command but the expected one is an error.

A real handshake is walked step by step for each mechanism; before each command is
delivered, the receiving connection is copied, and the copy is fed every other command name
(and, while a ZAP answer is pending, every name at all).  Each must raise ZmtpError (never
another exception) and leave the connection not ready.  The observed sequence of states is
checked against the table below, so a mechanism that grows or loses a step shows up here.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from purezmq.zmtp import ZapRequested, ZmtpConnection, ZmtpError

from .helpers import (
    MechanismKit,
    all_kits,
    raw_command,
    split_commands,
    split_greeting,
    zap_allow,
)

pytestmark = pytest.mark.timeout(60)

WAIT_ZAP = None  # the state "waiting for the ZAP handler": no command is expected

# (role of the receiving side, command it expects), in the order a handshake visits them.
EXPECTED_STATES: dict[str, list[tuple[str, bytes | None]]] = {
    "NULL": [("server", b"READY"), ("client", b"READY")],  # both at once: the walk picks
    "NULL+ZAP": [("server", b"READY"), ("server", WAIT_ZAP), ("client", b"READY")],
    "PLAIN": [
        ("server", b"HELLO"),
        ("client", b"WELCOME"),
        ("server", b"INITIATE"),
        ("client", b"READY"),
    ],
    "PLAIN+ZAP": [
        ("server", b"HELLO"),
        ("server", WAIT_ZAP),
        ("client", b"WELCOME"),
        ("server", b"INITIATE"),
        ("client", b"READY"),
    ],
    "CURVE": [
        ("server", b"HELLO"),
        ("client", b"WELCOME"),
        ("server", b"INITIATE"),
        ("client", b"READY"),
    ],
    "CURVE+ZAP": [
        ("server", b"HELLO"),
        ("client", b"WELCOME"),
        ("server", b"INITIATE"),
        ("server", WAIT_ZAP),
        ("client", b"READY"),
    ],
}

COMMAND_NAMES = [
    b"READY", b"ERROR", b"HELLO", b"WELCOME", b"INITIATE", b"MESSAGE",
    b"PING", b"PONG", b"SUBSCRIBE", b"CANCEL", b"JOIN", b"LEAVE",
    b"ready", b"Ready", b"READYX", b"REA", b"HELLO\x00", b"X" * 255, b"\x00", b"\xff\xfe",
]  # fmt: skip


class State:
    """A snapshot of one side in the middle of a handshake, and what it expects next."""

    def __init__(self, role: str, expected: bytes | None, conn: ZmtpConnection, data: bytes):
        self.role = role
        self.expected = expected
        self.conn = copy.deepcopy(conn)
        self.data = data  # the body the real peer sent in this state (b"" for WAIT_ZAP)

    def fresh(self) -> ZmtpConnection:
        return copy.deepcopy(self.conn)


def walk(kit: MechanismKit) -> list[State]:
    """Run a real handshake, recording a State before each handshake command is delivered.

    ZAP requests are answered only when nothing else is moving, so the "waiting for ZAP"
    state is visited with everything the peer had to say already received.
    """
    a = ZmtpConnection("DEALER", kit.client())
    b = ZmtpConnection("ROUTER", kit.server())
    roles = {id(a): "client", id(b): "server"}
    pending: list[ZmtpConnection] = []
    states: list[State] = []

    def feed(dst: ZmtpConnection, data: bytes) -> None:
        for ev in dst.receive_data(data):
            if isinstance(ev, ZapRequested):
                pending.append(dst)

    for _ in range(30):
        moved = False
        for src, dst in ((a, b), (b, a)):
            data = src.data_to_send()
            if not data:
                continue
            moved = True
            head, data = split_greeting(src, data)
            if head:
                feed(dst, head)
            for name, body in split_commands(data):
                if not dst.ready:
                    states.append(State(roles[id(dst)], name, dst, body))
                feed(dst, raw_command(name, body))
        if not moved:
            if not pending:
                break
            conn = pending.pop(0)
            states.append(State(roles[id(conn)], WAIT_ZAP, conn, b""))
            for ev in conn.zap_reply(*zap_allow(None)):
                assert not isinstance(ev, ZapRequested)
    assert a.ready and b.ready
    return states


KITS = {kit.name: kit for kit in all_kits()}
STATES = {name: walk(kit) for name, kit in KITS.items()}
CASES = [
    pytest.param(name, i, id=f"{name}-{i}-{s.role}-{(s.expected or b'ZAP').decode()}")
    for name, states in STATES.items()
    for i, s in enumerate(states)
]
EXPECTING = [c for c in CASES if STATES[c.values[0]][c.values[1]].expected is not None]


@pytest.mark.parametrize("mech", sorted(KITS))
def test_states_follow_the_table(mech):
    assert [(s.role, s.expected) for s in STATES[mech]] == EXPECTED_STATES[mech]


def test_table_covers_every_mechanism():
    assert set(KITS) <= set(EXPECTED_STATES)
    assert {"NULL", "NULL+ZAP", "PLAIN", "PLAIN+ZAP"} <= set(KITS)


def _assert_refused(state: State, name: bytes, data: bytes) -> None:
    conn = state.fresh()
    with pytest.raises(ZmtpError) as info:
        conn.receive_data(raw_command(name, data))
    assert info.value.kind in ("protocol", "auth")
    assert not conn.ready


@pytest.mark.parametrize(("mech", "index"), CASES)
def test_every_other_command_is_refused(mech, index):
    state = STATES[mech][index]
    for name in COMMAND_NAMES:
        if name == state.expected:
            continue
        # Empty data, the real body of the expected command, and junk.
        for data in (b"", state.data, b"\x00" * 200):
            _assert_refused(state, name, data)


@pytest.mark.parametrize(("mech", "index"), EXPECTING)
def test_expected_command_is_accepted(mech, index):
    """The control: the snapshot does accept the real command (so refusals mean something)."""
    state = STATES[mech][index]
    conn = state.fresh()
    conn.receive_data(raw_command(state.expected, state.data))


@pytest.mark.parametrize(("mech", "index"), EXPECTING)
def test_expected_command_twice_is_refused(mech, index):
    state = STATES[mech][index]
    conn = state.fresh()
    assert state.expected is not None
    conn.receive_data(raw_command(state.expected, state.data))
    if conn.ready:
        return  # in traffic a repeated handshake command is an unknown command: ignored
    _assert_refused(State(state.role, None, conn, b""), state.expected, state.data)


@pytest.mark.parametrize(("mech", "index"), CASES)
def test_message_frames_are_refused_in_every_state(mech, index):
    state = STATES[mech][index]
    for frame in (b"\x00\x00", b"\x01\x01a", b"\x00\x03abc", b"\x02" + bytes(7) + b"\x01x"):
        conn = state.fresh()
        with pytest.raises(ZmtpError):
            conn.receive_data(frame)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    case=st.sampled_from([(m, i) for m, states in STATES.items() for i in range(len(states))]),
    name=st.binary(min_size=1, max_size=255),
    data=st.binary(max_size=300),
)
def test_random_command_names_are_refused(case, name, data):
    mech, index = case
    state = STATES[mech][index]
    if name == state.expected:
        return
    _assert_refused(state, name, data)
