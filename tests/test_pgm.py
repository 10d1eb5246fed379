"""pgm:// and epgm:// (PGM, RFC 3208): the sans-I/O protocol, purezmq <-> purezmq, and
purezmq <-> libzmq built with OpenPGM (Debian's libzmq5, driven through ctypes in a helper).

Multicast only ever flows inside network namespaces made by the tests (``purezmq-pgm-*``,
with their own ``lo`` or a veth pair), TTL 1.  Tests needing them skip without root or
iproute2; interop tests skip when ``libzmq.so.5`` (with PGM) is not loadable.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import purezmq as zmq
from purezmq.pgm import packet as P
from purezmq.pgm.framing import ApduDecoder, ApduEncoder
from purezmq.pgm.receiver import MAX_PEERS, Receiver
from purezmq.pgm.source import Source, TokenBucket, window_sqns
from purezmq.transports import pgm as pgm_transport

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgm_helpers import (  # noqa: E402
    LibzmqPeer,
    libzmq_unavailable,
    netns,  # noqa: E402
)

pytestmark = pytest.mark.timeout(120)

TIMEO = 5000
GSI = bytes.fromhex("b7c6d1bc038a")
_ports = itertools.count(20000 + os.getpid() % 20000)
_groups = itertools.count(1)


def _endpoint(transport: str, iface: str) -> str:
    """A fresh group and port; ``iface`` "" leaves the interface to the routing table."""
    port = next(_ports)
    n = next(_groups)
    network = f"239.192.{n // 250}.{n % 250 + 1}"
    return f"{transport}://{iface};{network}:{port}" if iface else f"{transport}://{network}:{port}"


# =====================================================================================
# Packets
# =====================================================================================
# Captured from libzmq 4.3.4 / OpenPGM 5.3.128 (epgm, 10.77.0.1 -> 239.1.2.3:5555).
OPENPGM_ODATA = struct.pack(">HHBBH6sH", 18497, 5555, 4, 0, 0xC0C7, GSI, 17) + bytes.fromhex(
    "000000000000000000000601746f706963070068656c6c6f30"
)
OPENPGM_SPM_FIN = struct.pack(">HHBBH6sH", 18497, 5555, 0, 1, 0x7C91, GSI, 0) + bytes.fromhex(
    "000000090000000000000003000100000a4d0001000400088e040000"
)
OPENPGM_SPMR = struct.pack(">HHBBH6sH", 5555, 18497, 12, 0, 0x08FE, GSI, 0)


def test_packets_are_byte_for_byte_openpgms():
    odata = P.parse(OPENPGM_ODATA)
    assert (odata.type, odata.sqn, odata.trail) == (P.ODATA, 0, 0)
    assert odata.data == b"\x00\x00\x06\x01topic\x07\x00hello0"
    assert P.build_data(P.ODATA, 18497, 5555, GSI, 0, 0, odata.data) == OPENPGM_ODATA
    spm = P.parse(OPENPGM_SPM_FIN)
    assert (spm.sqn, spm.trail, spm.lead, spm.nla, spm.fin) == (9, 0, 3, "10.77.0.1", True)
    assert P.build_spm(18497, 5555, GSI, 9, 0, 3, "10.77.0.1", fin=True) == OPENPGM_SPM_FIN
    assert P.parse(OPENPGM_SPMR).type == P.SPMR
    assert P.build_spmr(5555, 18497, GSI) == OPENPGM_SPMR
    # ZMQ's framing inside: offset 0, "topic" with MORE, "hello0".
    assert ApduDecoder().feed(odata.data) == [[b"topic", b"hello0"]]


def test_build_parse_round_trip():
    nak = P.parse(P.build_nak(P.NAK, 5555, 1234, GSI, [7, 9, 11], "10.0.0.1", "239.1.1.1"))
    assert (nak.type, nak.sqns, nak.nla, nak.group) == (P.NAK, (7, 9, 11), "10.0.0.1", "239.1.1.1")
    ncf = P.parse(P.build_nak(P.NCF, 1234, 5555, GSI, [5], "fd00::1", "ff15::1"))
    assert (ncf.type, ncf.sqns, ncf.nla, ncf.group) == (P.NCF, (5,), "fd00::1", "ff15::1")
    rdata = P.parse(P.build_data(P.RDATA, 1, 2, GSI, 0xFFFFFFFF, 3, b"xyz"))
    assert (rdata.type, rdata.sqn, rdata.trail, rdata.data) == (P.RDATA, 0xFFFFFFFF, 3, b"xyz")
    spm6 = P.parse(P.build_spm(1, 2, GSI, 1, 2, 3, "fd00::5"))
    assert spm6.nla == "fd00::5" and not spm6.fin
    with pytest.raises(ValueError):
        P.build_nak(P.NAK, 1, 2, GSI, list(range(64)), "10.0.0.1", "239.1.1.1")


def test_max_tsdu_is_openpgms_mss():
    assert P.max_tsdu(1500, ipv6=False, udp=True) == 1448
    assert P.max_tsdu(1500, ipv6=False, udp=False) == 1456
    assert P.max_tsdu(1500, ipv6=True, udp=True) == 1428


VALID_PACKETS = [
    OPENPGM_ODATA,
    OPENPGM_SPM_FIN,
    OPENPGM_SPMR,
    P.build_nak(P.NAK, 5555, 1234, GSI, [7, 9, 11], "10.0.0.1", "239.1.1.1"),
    P.build_nak(P.NCF, 1234, 5555, GSI, [5], "fd00::1", "ff15::1"),
    P.build_data(P.RDATA, 1, 2, GSI, 77, 3, b"payload" * 20),
]


@pytest.mark.parametrize("raw", VALID_PACKETS, ids=lambda r: P.TYPE_NAMES[r[4]])
def test_every_bit_flip_and_truncation_is_refused(raw):
    for i in range(len(raw) * 8):
        bad = bytearray(raw)
        bad[i // 8] ^= 0x80 >> (i % 8)
        with pytest.raises(P.PgmError):
            P.parse(bytes(bad))
    for n in range(len(raw)):
        with pytest.raises(P.PgmError):
            P.parse(raw[:n])


def test_data_without_checksum_is_refused():
    raw = bytearray(OPENPGM_ODATA)
    raw[6:8] = b"\x00\x00"
    with pytest.raises(P.PgmError, match="without checksum"):
        P.parse(bytes(raw))


def _with_checksum(raw: bytes) -> bytes:
    buf = bytearray(raw)
    if len(buf) >= 8:
        buf[6:8] = b"\x00\x00"
        buf[6:8] = P.checksum(buf).to_bytes(2, "big")
    return bytes(buf)


def test_malformed_options_are_refused():
    head = struct.pack(">HHBBH6sH", 1, 2, P.SPMR, P.OPT_PRESENT, 0, GSI, 0)
    cases = [
        b"",  # flag set, no options
        struct.pack(">BBH", 1, 4, 8) + b"\x80\x04\x00\x00",  # not OPT_LENGTH first
        struct.pack(">BBH", 0, 4, 8) + b"\x0e\x00\x00\x00",  # zero-length option (no loop)
        struct.pack(">BBH", 0, 4, 8) + b"\x0e\x04\x00\x00",  # no END flag
        struct.pack(">BBH", 0, 4, 200) + b"\x8e\x04\x00\x00",  # total length past the end
        struct.pack(">BBH", 0, 4, 12) + b"\x8e\x04\x00\x00" + b"\x00" * 4,  # END before total
        struct.pack(">BBH", 0, 4, 8) + b"\x82\x04\x00\x00",  # empty NAK list
    ]
    for opts in cases:
        with pytest.raises(P.PgmError):
            P.parse(_with_checksum(head + opts))
    # and a good one, to show the builder above is right
    ok = P.parse(_with_checksum(head + struct.pack(">BBH", 0, 4, 8) + b"\x8e\x04\x00\x00"))
    assert ok.fin


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_parse_arbitrary_bytes_never_crashes(data):
    try:
        P.parse(data)
    except P.PgmError:
        pass


_headers = st.tuples(
    st.integers(0, 0xFFFF),
    st.sampled_from([5555, 5556]),
    st.sampled_from(sorted(P.TYPE_NAMES) + [3, 0x7F]),
    st.integers(0, 0xFF),
    st.sampled_from([GSI, b"\x00" * 6]),
    st.integers(0, 0xFFFF),
)


@st.composite
def forged_packets(draw):
    """Checksummed packets with plausible headers and random bodies (or a real body)."""
    sport, dport, ptype, flags, gsi, tsdu = draw(_headers)
    body = draw(
        st.one_of(
            st.binary(max_size=120),
            st.builds(
                lambda sqn, trail, data: struct.pack(">II", sqn, trail) + data,
                st.integers(0, 0xFFFFFFFF),
                st.integers(0, 0xFFFFFFFF),
                st.binary(max_size=60),
            ),
        )
    )
    if draw(st.booleans()) and ptype in (P.ODATA, P.RDATA) and len(body) >= 8:
        tsdu = len(body) - 8  # a consistent length, so the packet gets deep
        flags &= ~P.OPT_PRESENT
    raw = struct.pack(">HHBBH6sH", sport, dport, ptype, flags, 0, gsi, tsdu) + body
    return _with_checksum(raw)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(forged_packets(), max_size=40))
def test_forged_packets_never_crash_source_or_receiver(raws):
    now = 1000.0
    rx = Receiver(dport=5555, group="239.1.1.1", max_window=64, max_msg_size=1000)
    src = _source(now)
    for raw in raws:
        try:
            pkt = P.parse(raw)
        except P.PgmError:
            continue
        rx.on_packet(pkt, "10.0.0.9", now)
        src.on_packet(pkt, now)
        now += 0.01
        rx.poll(now)
        src.rdata()
    assert len(rx.peers) <= MAX_PEERS
    for peer in rx.peers.values():
        assert len(peer.buffer) + len(peer.missing) + len(peer.lost) <= 64 + 1


def test_receiver_bounds_memory_against_huge_sequence_jumps():
    rx = Receiver(dport=5555, group="239.1.1.1", max_window=32)
    now = 0.0
    for sqn in (0, 2**31 - 1, 5, 2**30, 7):
        raw = P.build_data(P.ODATA, 1000, 5555, GSI, sqn, 0, b"\x00\x00\x02\x00a")
        rx.on_packet(P.parse(raw), "10.0.0.1", now)
    peer = next(iter(rx.peers.values()))
    assert len(peer.missing) + len(peer.buffer) <= 32


# =====================================================================================
# Framing (libzmq's pgm_sender / pgm_receiver)
# =====================================================================================
_messages = st.lists(
    st.lists(st.binary(max_size=300), min_size=1, max_size=4), min_size=1, max_size=8
)


@settings(max_examples=200, deadline=None)
@given(_messages, st.integers(3, 400))
def test_framing_round_trip(messages, max_apdu):
    apdus = ApduEncoder(max_apdu).encode(messages)
    assert all(len(a) <= max_apdu for a in apdus)
    dec = ApduDecoder()
    out = []
    for a in apdus:
        out += dec.feed(a)
    assert out == messages


@settings(max_examples=200, deadline=None)
@given(_messages, st.integers(3, 100), st.data())
def test_framing_join_midway_gives_whole_later_messages(messages, max_apdu, data):
    apdus = ApduEncoder(max_apdu).encode(messages)
    start = data.draw(st.integers(0, len(apdus) - 1))
    dec = ApduDecoder()
    out = []
    for a in apdus[start:]:
        out += dec.feed(a)
    assert out == messages[len(messages) - len(out) :]  # a suffix: no partial message


def test_framing_long_frames_use_eight_byte_lengths():
    apdus = ApduEncoder(1000).encode([[b"x" * 300]])
    assert apdus[0][:12] == b"\x00\x00\xff" + (301).to_bytes(8, "big") + b"\x00"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_decoder_arbitrary_apdus_never_crash(apdus):
    dec = ApduDecoder(max_msg_size=100)
    for a in apdus:
        errors = dec.errors
        for msg in dec.feed(a):
            assert all(len(f) <= 100 for f in msg)
        if dec.errors != errors:
            assert not dec.joined


def test_decoder_refuses_frames_over_maxmsgsize():
    dec = ApduDecoder(max_msg_size=10)
    assert dec.feed(ApduEncoder(100).encode([[b"y" * 11]])[0]) == []
    assert dec.errors == 1 and not dec.joined
    assert dec.feed(ApduEncoder(100).encode([[b"z" * 10]])[0]) == [[b"z" * 10]]


def test_decoder_resynchronises_at_the_next_message_start():
    """Garbage inside the stream (corrupt or forged, yet in the window) costs the messages
    it overlaps, not the stream: the next APDU's offset puts the decoder back in step."""
    apdus = ApduEncoder(20).encode([[b"a" * 10], [b"b" * 30], [b"c"], [b"d" * 5]])
    dec = ApduDecoder()
    out = dec.feed(apdus[0])
    out += dec.feed(b"\xff\xff\x7f" + b"?" * 10)  # a forged APDU: a 126-byte frame begins
    for a in apdus[1:]:
        out += dec.feed(a)
    assert out[0] == [b"a" * 10] and out[-2:] == [[b"c"], [b"d" * 5]]
    assert dec.resyncs == 1


# =====================================================================================
# Source and receiver together, on a simulated network and clock
# =====================================================================================
def _source(now: float, window: int = 100, max_tsdu: int = 64) -> Source:
    return Source(
        gsi=GSI,
        sport=1000,
        dport=5555,
        nla="10.0.0.1",
        group="239.1.1.1",
        max_tsdu=max_tsdu,
        window=window,
        rate_bytes=0,
        header_overhead=28,
        now=now,
    )


class SimNet:
    """One source, one receiver, a clock; ODATA the test wants lost never arrives."""

    def __init__(self, window: int = 100, max_tsdu: int = 64) -> None:
        self.t = 0.0
        self.src = _source(self.t, window, max_tsdu)
        self.rx = Receiver(dport=5555, group="239.1.1.1", max_window=256, rng=lambda: 0.5)
        self.enc = ApduEncoder(max_tsdu)
        self.got: list = []
        self.naks = 0
        self.lose_all_upstream = False
        self.run(0.0)

    def down(self, raw: bytes) -> None:
        msgs, out = self.rx.on_packet(P.parse(raw), "10.0.0.1", self.t)
        self.got += msgs
        for _host, data in out:
            self.up(data)

    def up(self, raw: bytes) -> None:
        pkt = P.parse(raw)
        if pkt.type == P.NAK:
            self.naks += 1
        if self.lose_all_upstream:
            return
        for reply in self.src.on_packet(pkt, self.t):
            self.down(reply)
        for rdata in self.src.rdata():
            self.down(rdata)

    def send(self, messages, lose=()) -> None:
        for apdu in self.enc.encode(messages):
            sqn = self.src.next_sqn
            raw = self.src.odata(apdu, self.t)
            if sqn not in lose:
                self.down(raw)

    def run(self, until: float) -> None:
        while True:
            times = [t for t in (self.src.next_timer(), self.rx.next_timer()) if t is not None]
            nxt = min(times) if times else None
            if nxt is None or nxt > until:
                self.t = max(self.t, until)
                return
            self.t = max(self.t, nxt)
            for spm in self.src.poll(self.t):
                self.down(spm)
            msgs, out = self.rx.poll(self.t)
            self.got += msgs
            for _host, data in out:
                self.up(data)


def test_sim_lossless_in_order():
    net = SimNet()
    msgs = [[b"t", b"%d" % i] for i in range(50)]
    for m in msgs:
        net.send([m])
    assert net.got == msgs


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(0, 59), max_size=30))
def test_sim_any_loss_is_repaired_in_order(lost):
    net = SimNet()
    msgs = [[b"m%d" % i] for i in range(60)]
    for i, m in enumerate(msgs):
        net.send([m], lose={i} & lost)
        net.t += 0.001
    net.run(net.t + 5.0)  # the SPM heartbeat reveals tail losses too
    assert net.got == msgs
    peer = next(iter(net.rx.peers.values()))
    assert peer.stats["repaired"] == len(lost) and peer.stats["lost"] == 0


def test_sim_long_naks_are_split_in_63s():
    net = SimNet(window=500)
    net.send([[b"first"]])
    for i in range(150):
        net.send([[b"%d" % i]], lose=range(1, 1000))
    net.send([[b"last"]])
    net.run(net.t + 3.0)
    assert net.got == [[b"first"]] + [[b"%d" % i] for i in range(150)] + [[b"last"]]
    assert 3 <= net.naks <= 6


def test_sim_loss_beyond_the_window_skips_to_the_next_message():
    net = SimNet(window=2, max_tsdu=16)
    net.send([[b"a"]])  # sqn 0
    net.send([[b"b" * 30]], lose={2})  # sqns 1-3: the middle packet of a 3-packet message
    for c in (b"c", b"d", b"e"):  # 4, 5, 6: push sqn 2 out of the 2-packet window
        net.send([[c]])
    net.run(net.t + 3.0)
    assert net.got == [[b"a"], [b"c"], [b"d"], [b"e"]]
    assert next(iter(net.rx.peers.values())).stats["lost"] == 1


def test_sim_receiver_gives_up_after_retries():
    net = SimNet()
    net.send([[b"a"]])
    net.lose_all_upstream = True  # NAKs never reach the source
    net.send([[b"lost"]], lose={1})
    net.send([[b"after"]])
    net.run(net.t + 30.0)
    assert net.got == [[b"a"], [b"after"]]
    assert net.naks > 40


def test_sim_late_joiner_starts_at_the_spm_lead():
    net = SimNet()
    net.send([[b"old"]])
    late = Receiver(dport=5555, group="239.1.1.1", max_window=256)
    net.rx = late
    net.run(net.t + 0.15)  # a heartbeat SPM defines the window at lead + 1
    net.send([[b"new"]])
    assert net.got == [[b"old"], [b"new"]]
    assert next(iter(late.peers.values())).stats["delivered"] == 1


def test_transmit_window_is_rate_times_recovery_ivl():
    assert window_sqns(100, 10000, 1500) == 80  # libzmq's defaults: 80 packets
    assert window_sqns(1000, 12, 1500) == 1
    assert window_sqns(100000, 10000, 1500) == 83333
    src = _source(0.0, window=3)
    for i in range(10):
        src.odata(b"%d" % i, 0.0)
    assert list(src.window) == [7, 8, 9] and src.trail == 7 and src.lead == 9


def test_token_bucket():
    b = TokenBucket(1000.0, 100.0, 0.0)
    assert b.take(100, 0.0)
    assert not b.take(50, 0.0)
    assert b.ready_at(50, 0.0) == pytest.approx(0.05)
    assert b.take(50, 0.05)


# =====================================================================================
# Endpoints and errors (no traffic: these fail before any socket is opened)
# =====================================================================================
@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


@pytest.mark.parametrize(
    "endpoint",
    [
        "epgm://lo;127.0.0.1:5555",  # not multicast
        "pgm://lo;10.1.2.3:5555",
        "epgm://lo;239.1.1.1",  # no port
        "epgm://lo;239.1.1.1:0",
        "epgm://lo;239.1.1.1:70000",
        "epgm://lo;239.1.1.1:x",
        "epgm://lo;not-an-address:5555",
        "epgm://no-such-interface0;239.1.1.1:5555",
        "epgm://a;b;c;239.1.1.1:5555",
    ],
)
@pytest.mark.parametrize("kind", [zmq.PUB, zmq.SUB])
@pytest.mark.parametrize("how", ["bind", "connect"])
def test_bad_pgm_endpoints_are_einval(ctx, endpoint, kind, how):
    s = ctx.socket(kind)
    with pytest.raises(zmq.ZMQError) as e:
        getattr(s, how)(endpoint)
    assert e.value.errno == zmq.EINVAL
    s.close(0)


@pytest.mark.parametrize("kind", [zmq.REQ, zmq.REP, zmq.DEALER, zmq.ROUTER, zmq.PUSH, zmq.PAIR])
def test_pgm_needs_a_pub_or_sub_socket(ctx, kind):
    s = ctx.socket(kind)
    with pytest.raises(zmq.ZMQError) as e:
        s.connect("epgm://lo;239.1.1.1:5555")
    assert e.value.errno == zmq.ENOCOMPATPROTO
    s.close(0)


def test_has_pgm():
    assert zmq.has("pgm") and zmq.has("epgm")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
@pytest.mark.skipif(os.geteuid() != 0, reason="maps root into a user namespace")
def test_raw_pgm_without_cap_net_raw_is_eprotonosupport():
    # In a new user namespace we keep our files but lose CAP_NET_RAW on the host network:
    # opening the raw socket fails, before anything is sent.
    src = str(Path(zmq.__file__).resolve().parent.parent)
    code = (
        f"import sys; sys.path.insert(0, {src!r})\n"
        "import purezmq as zmq\n"
        "s = zmq.Context().socket(zmq.PUB)\n"
        "try:\n"
        "    s.connect('pgm://lo;239.1.1.1:5555')\n"
        "except zmq.ZMQError as e:\n"
        "    print(e.errno == zmq.EPROTONOSUPPORT, str(e))\n"
        "s.close(0)\n"
    )
    r = subprocess.run(
        ["unshare", "--user", "--map-root-user", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if r.returncode != 0 and "unshare" in r.stderr:
        pytest.skip(f"user namespaces unavailable: {r.stderr.strip()}")
    assert r.stdout.startswith("True"), (r.stdout, r.stderr)
    assert "raw" in r.stdout and "epgm" in r.stdout


# =====================================================================================
# Live traffic inside private network namespaces
# =====================================================================================
_NS_REASON = netns.available()
needs_netns = pytest.mark.skipif(_NS_REASON is not None, reason=_NS_REASON or "")
_LIBZMQ_REASON: str | None = None


def _libzmq_reason() -> str | None:
    global _LIBZMQ_REASON
    if _LIBZMQ_REASON is None:
        _LIBZMQ_REASON = libzmq_unavailable() or ""
    return _LIBZMQ_REASON or None


@pytest.fixture(scope="module")
def lo_lab():
    """One namespace; multicast on its lo."""
    if _NS_REASON is not None:
        pytest.skip(_NS_REASON)
    lab = netns.Lab(pair=False)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="module")
def pair_lab():
    """Two namespaces joined by a veth pair (libzmq disables multicast loop for PGM)."""
    if _NS_REASON is not None:
        pytest.skip(_NS_REASON)
    lab = netns.Lab(pair=True)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def libzmq(pair_lab):
    reason = _libzmq_reason()
    if reason:
        pytest.skip(f"libzmq with PGM not available: {reason}")
    peers: list[LibzmqPeer] = []

    def make(ns: str) -> LibzmqPeer:
        peer = LibzmqPeer(ns)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()


def _sockets(ctx, ns: str, endpoint: str, *, sub_topics=(b"",), pub_opts=None, sub_opts=None):
    """A purezmq SUB then PUB, both on ``endpoint``, made inside namespace ``ns``."""
    with netns.inside(ns):
        sub = ctx.socket(zmq.SUB)
        for opt, value in (sub_opts or {}).items():
            sub.setsockopt(opt, value)
        for t in sub_topics:
            sub.setsockopt(zmq.SUBSCRIBE, t)
        sub.rcvtimeo = TIMEO
        sub.connect(endpoint)
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.RATE, 100000)
        for opt, value in (pub_opts or {}).items():
            pub.setsockopt(opt, value)
        pub.bind(endpoint)  # bind is connect for PGM
    time.sleep(0.2)
    return pub, sub


def _session(sock) -> pgm_transport.PgmSession:
    (session,) = pgm_transport.sessions(sock)
    return session


def _wait_drained(session: pgm_transport.PgmSession) -> None:
    """Wait until the source has sent everything the socket queued."""
    deadline = time.monotonic() + TIMEO / 1000
    while len(session.peer.out) or session.pending:
        assert time.monotonic() < deadline
        time.sleep(0.001)


def _wait_sent(session: pgm_transport.PgmSession, n: int) -> None:
    """Wait until the source has numbered ``n`` ODATA packets (its I/O thread batches)."""
    deadline = time.monotonic() + TIMEO / 1000
    while session.source.next_sqn < n:
        assert time.monotonic() < deadline
        time.sleep(0.001)


@needs_netns
@pytest.mark.parametrize(
    "transport, iface", [("epgm", "lo"), ("pgm", "lo"), ("epgm", "127.0.0.1"), ("epgm", "")]
)
def test_pub_sub_on_loopback(ctx, lo_lab, transport, iface):
    ep = _endpoint(transport, iface)
    pub, sub = _sockets(ctx, lo_lab.a, ep, sub_topics=(b"a", b"big"))
    big = os.urandom(100_000)  # ~70 APDUs, 8-byte frame length
    sent = []
    for i in range(40):
        pub.send_multipart([b"b-not-subscribed", b"%d" % i])
        msg = [b"a%d" % i, b"", b"x" * (i * 10)]
        pub.send_multipart(msg)
        sent.append(msg)
        if i == 20:
            pub.send_multipart([b"big", big])
            sent.append([b"big", big])
    got = [sub.recv_multipart() for _ in sent]
    assert got == sent
    assert sub.poll(200) == 0  # nothing else: the subscriber filtered "b..."
    assert _session(pub).source.stats["odata"] > 70


@needs_netns
@pytest.mark.parametrize("side", ["sender", "receiver"])
@pytest.mark.parametrize("transport", ["epgm", "pgm"])
def test_loss_is_repaired_purezmq_to_purezmq(ctx, lo_lab, transport, side):
    ep = _endpoint(transport, "lo")
    pub, sub = _sockets(ctx, lo_lab.a, ep)
    src, rx = _session(pub), _session(sub)
    lost = {1, 2, 5, 9, 10, 11, 19}  # 19: the last one, found by the SPM heartbeat
    hook = src.source.skip_send if side == "sender" else rx.receiver.skip_receive
    hook.update(lost)
    sent = []
    for i in range(20):
        msg = [b"m", b"%d" % i]
        pub.send_multipart(msg)
        sent.append(msg)
        _wait_sent(src, i + 1)  # one ODATA each: message i is sequence number i
    assert [sub.recv_multipart() for _ in sent] == sent
    assert not hook
    assert src.source.stats["rdata"] >= len(lost)
    (peer,) = rx.receiver.peers.values()
    assert peer.stats["repaired"] == len(lost) and peer.stats["lost"] == 0


@needs_netns
def test_loss_beyond_the_transmit_window_loses_one_message_only(ctx, lo_lab):
    ep = _endpoint("epgm", "lo")
    # RATE 1000 kbit/s * RECOVERY_IVL 12 ms = 1500 bytes: a window of one packet.
    pub, sub = _sockets(ctx, lo_lab.a, ep, pub_opts={zmq.RATE: 1000, zmq.RECOVERY_IVL: 12})
    src = _session(pub).source
    assert src.window_size == 1
    src.skip_send.add(2)
    for i in range(6):
        pub.send(b"%d" % i)
        _wait_sent(_session(pub), i + 1)
    got = [sub.recv() for _ in range(5)]
    assert got == [b"0", b"1", b"3", b"4", b"5"]
    (peer,) = _session(sub).receiver.peers.values()
    assert peer.stats["lost"] == 1


@needs_netns
def test_multicast_options_are_applied(ctx, lo_lab):
    ep = _endpoint("epgm", "lo")
    pub, sub = _sockets(
        ctx,
        lo_lab.a,
        ep,
        pub_opts={zmq.MULTICAST_HOPS: 3, zmq.MULTICAST_MAXTPDU: 600},
    )
    s = _session(pub)
    assert s.tx.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL) == 3
    assert s.tx.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP) == 1
    assert s.max_tsdu == 600 - 28 - 24
    pub.send(b"y" * 5000)
    assert sub.recv() == b"y" * 5000
    assert s.source.stats["odata"] == 10  # 5000 bytes in 546-byte APDUs


@needs_netns
@pytest.mark.parametrize("loop", [0, 1])
def test_multicast_loop(ctx, pair_lab, loop):
    """MULTICAST_LOOP 0: same-host subscribers do not hear the source, others still do.

    (On ``lo`` itself the option cannot matter: the wire is the host.)"""
    port = next(_ports)
    group = f"239.194.0.{next(_groups) % 250 + 1}"
    subs = []
    for ns, dev in ((pair_lab.a, pair_lab.veth_a), (pair_lab.b, pair_lab.veth_b)):
        with netns.inside(ns):
            s = ctx.socket(zmq.SUB)
            s.setsockopt(zmq.SUBSCRIBE, b"")
            s.connect(f"epgm://{dev};{group}:{port}")
        subs.append(s)
    with netns.inside(pair_lab.a):
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.MULTICAST_LOOP, loop)
        pub.connect(f"epgm://{pair_lab.veth_a};{group}:{port}")
    time.sleep(0.2)
    pub.send(b"hello")
    local, remote = subs
    assert remote.poll(TIMEO) and remote.recv() == b"hello"
    assert bool(local.poll(300)) == bool(loop)


@needs_netns
def test_rate_limits_the_sender(ctx, lo_lab):
    ep = _endpoint("epgm", "lo")
    pub, sub = _sockets(ctx, lo_lab.a, ep, pub_opts={zmq.RATE: 8000, zmq.SNDHWM: 0})
    payload = b"r" * 1000
    start = time.monotonic()
    for _ in range(1000):  # 1 MB at 1 MB/s (with 100 ms of burst)
        pub.send(payload)
    for _ in range(1000):
        assert sub.recv() == payload
    assert time.monotonic() - start > 0.8


@needs_netns
def test_garbage_datagrams_do_not_hurt_a_receiver(ctx, lo_lab):
    ep = _endpoint("epgm", "lo")
    pub, sub = _sockets(ctx, lo_lab.a, ep)
    group, port = ep.split(";")[1].rsplit(":", 1)
    with netns.inside(lo_lab.a):
        g = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    g.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    g.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    pub.send(b"before")
    assert sub.recv() == b"before"
    tsi = next(iter(_session(sub).receiver.peers))
    junk = [os.urandom(n) for n in range(0, 200, 7)]
    junk += [b[: len(b) // 2] for b in VALID_PACKETS]
    # forged but checksummed: the live source's TSI, absurd sequence numbers
    bad = len(junk)
    # Forged but well-formed, for the live source's TSI: sequence numbers far behind, or
    # far ahead (one packet claiming a jump past the window is not believed), an absurd
    # trail.  PGM has no authentication; plausible forgeries cannot be told apart.
    junk += [
        P.build_data(P.ODATA, tsi[1], int(port), tsi[0], sqn, trail, b"\xff\xff" + os.urandom(9))
        for sqn, trail in ((2**31 + 5, 0), (2**30, 2**30), (2**32 - 1, 2**32 - 1), (0, 2**20))
    ]
    junk += [P.build_spm(tsi[1], int(port), tsi[0], 7, 2**29, 2**31 - 1, "127.0.0.1")]
    for j in junk:
        g.sendto(j, (group, int(port)))
    g.close()
    time.sleep(0.2)
    for i in range(5):
        pub.send(b"after%d" % i)
    assert [sub.recv() for _ in range(5)] == [b"after%d" % i for i in range(5)]
    assert _session(sub).stats["bad_packets"] >= bad - 3  # a few random ones may be valid


@needs_netns
def test_slow_reader_backpressure_loses_nothing(ctx, lo_lab):
    ep = _endpoint("epgm", "lo")
    pub, sub = _sockets(ctx, lo_lab.a, ep, sub_opts={zmq.RCVHWM: 10}, pub_opts={zmq.SNDHWM: 0})
    for i in range(300):
        pub.send(b"%d" % i)
        if i % 20 == 0:
            time.sleep(0.002)
    time.sleep(0.3)
    rx = _session(sub)
    assert rx.paused or rx.backlog  # the receiver stopped at the high-water mark
    got = []
    for _ in range(300):
        got.append(sub.recv())
    assert got == [b"%d" % i for i in range(300)]


@needs_netns
def test_xpub_xsub(ctx, lo_lab):
    ep = _endpoint("epgm", "lo")
    with netns.inside(lo_lab.a):
        xsub = ctx.socket(zmq.XSUB)
        xsub.rcvtimeo = TIMEO
        xsub.connect(ep)
        xpub = ctx.socket(zmq.XPUB)
        xpub.setsockopt(zmq.RATE, 100000)
        xpub.connect(ep)
    time.sleep(0.2)
    xsub.send(b"\x01topic")  # goes nowhere: PGM has no upstream for subscriptions
    xpub.send_multipart([b"anything", b"goes"])
    assert xsub.recv_multipart() == [b"anything", b"goes"]
    assert xpub.poll(100) == 0


@needs_netns
def test_disconnect_and_close_with_linger(ctx, lo_lab):
    ep = _endpoint("epgm", "lo")
    pub, sub = _sockets(ctx, lo_lab.a, ep, pub_opts={zmq.RATE: 800})  # 100 kB/s
    for i in range(30):
        pub.send(b"%d" % i + b"." * 2000)  # 60 kB: ~0.6 s at RATE
    pub.close(linger=5000)  # lingers until all is sent
    got = [sub.recv()[:2] for _ in range(30)]
    assert got == [(b"%d" % i + b".")[:2] for i in range(30)]
    sub.disconnect(ep)
    assert pgm_transport.sessions(sub) == []


@needs_netns
def test_ipv6_over_veth(ctx):
    lab = netns.Lab(pair=True, ipv6=True)
    try:
        port = next(_ports)
        with netns.inside(lab.b):
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            sub.rcvtimeo = TIMEO
            sub.connect(f"epgm://{lab.veth_b};[ff15::77]:{port}")
        with netns.inside(lab.a):
            pub = ctx.socket(zmq.PUB)
            pub.setsockopt(zmq.RATE, 100000)
            pub.connect(f"epgm://{lab.addr6_a};[ff15::77]:{port}")
        time.sleep(0.3)
        _session(pub).source.skip_send.add(1)
        for i in range(3):
            pub.send(b"%d" % i)
            _wait_sent(_session(pub), i + 1)
        assert [sub.recv() for _ in range(3)] == [b"0", b"1", b"2"]
        (peer,) = _session(sub).receiver.peers.values()
        assert peer.nla == lab.addr6_a and peer.stats["repaired"] == 1
        pub.close(0)
        sub.close(0)
    finally:
        lab.close()


# =====================================================================================
# Interop with libzmq + OpenPGM (veth pair: libzmq in namespace a, purezmq in b)
# =====================================================================================
def _interop_endpoints(lab, transport: str) -> tuple[str, str]:
    port = next(_ports)
    n = next(_groups)
    group = f"239.193.{n // 250}.{n % 250 + 1}"
    # OpenPGM resolves interface names through DNS first: libzmq gets the address.
    theirs = f"{transport}://{lab.addr_a};{group}:{port}"
    ours = f"{transport}://{lab.veth_b};{group}:{port}"
    return theirs, ours


@needs_netns
@pytest.mark.parametrize("transport", ["epgm", "pgm"])
def test_libzmq_pub_to_purezmq_sub(ctx, pair_lab, libzmq, transport):
    theirs, ours = _interop_endpoints(pair_lab, transport)
    with netns.inside(pair_lab.b):
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"weather.")
        sub.setsockopt(zmq.RATE, 10000)
        sub.rcvtimeo = TIMEO
        sub.connect(ours)
    rx = _session(sub)
    # Lose three ODATA: OpenPGM must repair them.  (libzmq may batch messages into fewer
    # packets when busy, but the 5 kB message alone takes 4: numbers 0-4 always exist.)
    rx.receiver.skip_receive.update({1, 2, 4})
    peer = libzmq(pair_lab.a)
    peer.socket("PUB", RATE=10000)
    peer.connect(theirs)
    time.sleep(0.5)
    big = bytes(range(256)) * 20  # 5 kB: several APDUs, 8-byte frame length
    sent = []
    for i in range(12):
        peer.send([b"sports.%d" % i, b"filtered out"])
        msg = [b"weather.%d" % i, b"sunny" * i] if i != 6 else [b"weather.big", big, b""]
        peer.send(msg)
        sent.append(msg)
        time.sleep(0.01)
    assert [sub.recv_multipart() for _ in sent] == sent
    assert sub.poll(200) == 0
    assert not rx.receiver.skip_receive
    (state,) = rx.receiver.peers.values()
    assert state.stats["repaired"] == 3 and state.stats["lost"] == 0, (
        state.stats,
        rx.receiver.skip_receive,
        rx.receiver.stats,
        rx.stats,
    )
    assert state.nla == pair_lab.addr_a  # learnt from OpenPGM's SPMs


@needs_netns
@pytest.mark.parametrize("transport", ["epgm", "pgm"])
def test_purezmq_pub_to_libzmq_sub(ctx, pair_lab, libzmq, transport):
    theirs, ours = _interop_endpoints(pair_lab, transport)
    peer = libzmq(pair_lab.a)
    peer.socket("SUB", RATE=10000)
    peer.connect(theirs)
    peer.subscribe(b"weather.")
    time.sleep(0.3)
    with netns.inside(pair_lab.b):
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.RATE, 10000)
        pub.connect(ours)
    src = _session(pub)
    for _ in range(50):  # until libzmq has joined the group and the stream
        pub.send_multipart([b"weather.warmup", b""])
        if peer.recv(timeout=100) is not None:
            break
    while peer.recv(timeout=300) is not None:
        pass
    base = src.source.next_sqn
    # OpenPGM must NAK these and take our RDATA
    src.source.skip_send.update({base + 2, base + 3, base + 9})
    big = bytes(range(256)) * 20
    sent = []
    for i in range(12):
        pub.send_multipart([b"sports.%d" % i, b"filtered out"])
        msg = [b"weather.%d" % i, b"rain" * i] if i != 6 else [b"weather.big", big, b""]
        pub.send_multipart(msg)
        sent.append(msg)
        _wait_drained(src)  # at least one ODATA per round
    got = [peer.recv(timeout=TIMEO) for _ in sent]
    assert got == sent
    assert peer.recv(timeout=200) is None
    assert not src.source.skip_send
    assert src.source.stats["naks"] >= 1 and src.source.stats["rdata"] >= 3
    pub.close(0)


@needs_netns
def test_libzmq_also_refuses_non_multicast(pair_lab, libzmq):
    peer = libzmq(pair_lab.a)
    peer.socket("SUB")
    answer = peer.call("connect", endpoint=f"epgm://{pair_lab.addr_a};127.0.0.1:5555")
    assert answer.get("error") == zmq.EINVAL


# =====================================================================================
# Sharing one group:port with libzmq on one host (namespace a holds both)
# =====================================================================================
@needs_netns
@pytest.mark.parametrize(
    ("transport", "kind", "first"),
    [("epgm", "SUB", "libzmq"), ("epgm", "PUB", "purezmq"), ("pgm", "SUB", "purezmq"),
     ("pgm", "PUB", "libzmq")],
)
def test_sharing_a_group_and_port_with_libzmq(ctx, pair_lab, libzmq, transport, kind, first):
    """A libzmq (OpenPGM) socket and a purezmq one on the same host, group and port, in either
    order: both open (purezmq used to fail with EADDRINUSE on epgm) and both work, with a
    purezmq peer of the other kind across the veth pair."""
    theirs, ours = _interop_endpoints(pair_lab, transport)
    mine = ours.replace(pair_lab.veth_b, pair_lab.veth_a)  # same group:port, namespace a
    peer = libzmq(pair_lab.a)
    peer.socket(kind, RATE=10000)

    def open_ours():
        with netns.inside(pair_lab.a):
            s = ctx.socket(getattr(zmq, kind))
            s.setsockopt(zmq.RATE, 10000)
            if kind == "SUB":
                s.setsockopt(zmq.SUBSCRIBE, b"")
                s.rcvtimeo = TIMEO
            s.connect(mine)
        return s

    if first == "libzmq":
        peer.connect(theirs)
        local = open_ours()
    else:
        local = open_ours()
        peer.connect(theirs)
    if kind == "SUB":
        peer.subscribe(b"")
    with netns.inside(pair_lab.b):
        other = ctx.socket(zmq.PUB if kind == "SUB" else zmq.SUB)
        other.setsockopt(zmq.RATE, 10000)
        if kind == "PUB":
            other.setsockopt(zmq.SUBSCRIBE, b"")
            other.rcvtimeo = TIMEO
        other.connect(ours)
    time.sleep(0.3)
    if kind == "SUB":  # one publisher across the veth, two subscribers here
        for _ in range(50):  # until both joined the stream
            other.send(b"warmup")
            if local.poll(100) and peer.recv(timeout=100) is not None:
                break
        while local.poll(200):
            local.recv()
        while peer.recv(timeout=200) is not None:
            pass
        sent = [b"m%d" % i for i in range(5)]
        for m in sent:
            other.send(m)
            time.sleep(0.01)
        assert [local.recv() for _ in sent] == sent
        assert [peer.recv(timeout=TIMEO) for _ in sent] == [[m] for m in sent]
    else:  # two publishers here, one subscriber across the veth hears both
        heard = set()
        end = time.monotonic() + 10
        while heard != {b"libzmq", b"purezmq"} and time.monotonic() < end:
            local.send(b"purezmq")
            peer.send([b"libzmq"])
            while other.poll(50):
                heard.add(other.recv())
        assert heard == {b"libzmq", b"purezmq"}
    local.close(0)
    other.close(0)
