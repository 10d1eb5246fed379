"""PGM packets (RFC 3208 section 8 and 9), as OpenPGM puts them on the wire.

A packet is a 16-byte header (source port, destination port, type, option flags,
checksum, 6-byte GSI, TSDU length), type-specific fields, options, then data::

    SPM          sqn, trail, lead, NLA AFI + reserved, path NLA
    ODATA/RDATA  sqn, trail, [options], TSDU
    NAK/NNAK/NCF sqn, source NLA AFI + reserved + NLA, group NLA AFI + reserved + NLA
    SPMR         (nothing)

Options, when the ``OPT_PRESENT`` flag is set, start with ``OPT_LENGTH`` (type 0, length 4,
total length of all options) and each is ``type | END bit, length, 2 bytes of flags, value``.
The checksum is the Internet checksum of the whole PGM packet; zero means "none", which
is refused for ODATA and RDATA (as OpenPGM does).

:func:`parse` is the only entry point for untrusted bytes: any malformed, truncated or
inconsistent packet raises :class:`PgmError` (a ``ValueError``), never anything else.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from purezmq._compat import DATACLASS_SLOTS

# packet types
SPM = 0x00
POLL = 0x01
POLR = 0x02
ODATA = 0x04
RDATA = 0x05
NAK = 0x08
NNAK = 0x09
NCF = 0x0A
SPMR = 0x0C
ACK = 0x0D
TYPE_NAMES = {
    SPM: "SPM",
    POLL: "POLL",
    POLR: "POLR",
    ODATA: "ODATA",
    RDATA: "RDATA",
    NAK: "NAK",
    NNAK: "NNAK",
    NCF: "NCF",
    SPMR: "SPMR",
    ACK: "ACK",
}
DOWNSTREAM = frozenset({SPM, ODATA, RDATA, NCF, POLL})
UPSTREAM = frozenset({NAK, NNAK, SPMR, POLR, ACK})

# header option flags
OPT_PRESENT = 0x01
OPT_NETWORK = 0x02
OPT_VAR_PKTLEN = 0x40
OPT_PARITY = 0x80

# option types
OPT_LENGTH = 0x00
OPT_FRAGMENT = 0x01
OPT_NAK_LIST = 0x02
OPT_JOIN = 0x03
OPT_SYN = 0x0D
OPT_FIN = 0x0E
OPT_RST = 0x0F
OPT_END = 0x80
OPT_MASK = 0x7F
MAX_OPTIONS = 16
MAX_NAK_LIST = 62  # sequence numbers in OPT_NAK_LIST, besides the one in the NAK header

AFI_IP = 1
AFI_IP6 = 2

HEADER = struct.Struct(">HHBBH6sH")
HEADER_LEN = HEADER.size  # 16
U32 = struct.Struct(">I")
DATA_HDR = struct.Struct(">II")  # sqn, trail
SPM_HDR = struct.Struct(">IIIHH")  # sqn, trail, lead, afi, reserved
NLA_HDR = struct.Struct(">HH")  # afi, reserved
DATA_HEADER_LEN = HEADER_LEN + DATA_HDR.size  # 24: what precedes the TSDU of a plain ODATA

SQN_MASK = 0xFFFFFFFF


class PgmError(ValueError):
    """A packet that is not valid PGM (truncated, corrupt, forged or unsupported)."""


def sqn_lt(a: int, b: int) -> bool:
    """Serial-number ``a < b`` on 32 bits (RFC 1982)."""
    return a != b and ((b - a) & SQN_MASK) < 0x80000000


def sqn_lte(a: int, b: int) -> bool:
    return a == b or sqn_lt(a, b)


def sqn_diff(a: int, b: int) -> int:
    """``a - b`` as a signed 32-bit serial difference."""
    d = (a - b) & SQN_MASK
    return d - 0x100000000 if d >= 0x80000000 else d


def checksum(data: bytes | bytearray | memoryview) -> int:
    """The Internet checksum (RFC 1071) as PGM uses it: 0xFFFF stands in for 0."""
    if len(data) % 2:
        data = bytes(data) + b"\x00"
    total = sum(memoryview(data).cast("H")) if len(data) else 0
    # The sum above is in host order; fold, complement, then put it in network order.
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    value = ~total & 0xFFFF
    value = int.from_bytes(value.to_bytes(2, "little" if _LITTLE else "big"), "big")
    return value or 0xFFFF


_LITTLE = struct.pack("=H", 1) == b"\x01\x00"


# -- addresses ---------------------------------------------------------------------------------
def _nla_bytes(address: str) -> tuple[int, bytes]:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return (AFI_IP, ip.packed) if ip.version == 4 else (AFI_IP6, ip.packed)


def _read_nla(buf: memoryview, pos: int) -> tuple[str, int]:
    if len(buf) < pos + 4:
        raise PgmError("truncated NLA")
    afi, _reserved = NLA_HDR.unpack_from(buf, pos)
    pos += 4
    if afi == AFI_IP:
        size = 4
    elif afi == AFI_IP6:
        size = 16
    else:
        raise PgmError(f"unknown NLA AFI {afi}")
    if len(buf) < pos + size:
        raise PgmError("truncated NLA")
    return str(ipaddress.ip_address(bytes(buf[pos : pos + size]))), pos + size


# -- the parsed form -------------------------------------------------------------------------
@dataclass(**DATACLASS_SLOTS)
class Packet:
    """One parsed PGM packet; fields not carried by ``type`` keep their defaults."""

    type: int
    sport: int
    dport: int
    gsi: bytes
    flags: int = 0
    sqn: int = 0  # SPM / data / NAK (first requested) sequence number
    trail: int = 0
    lead: int = 0
    nla: str | None = None  # SPM path NLA, NAK/NCF source NLA
    group: str | None = None  # NAK/NCF multicast group NLA
    data: bytes = b""  # the TSDU of ODATA/RDATA
    nak_list: tuple[int, ...] = ()  # further sequence numbers of a NAK/NCF (OPT_NAK_LIST)
    fragment: tuple[int, int, int] | None = None  # OPT_FRAGMENT: first sqn, offset, APDU length
    join: int | None = None  # OPT_JOIN: minimum sequence number a late joiner may ask for
    fin: bool = False
    syn: bool = False
    rst: bool = False

    @property
    def name(self) -> str:
        return TYPE_NAMES.get(self.type, str(self.type))

    @property
    def sqns(self) -> tuple[int, ...]:
        """Every sequence number a NAK/NCF names."""
        return (self.sqn, *self.nak_list)


def _parse_options(pkt: Packet, buf: memoryview, pos: int) -> int:
    """Walk the option extensions at ``pos``; return where they end."""
    if len(buf) < pos + 4:
        raise PgmError("truncated options")
    otype, olen, total = struct.unpack_from(">BBH", buf, pos)
    if otype != OPT_LENGTH or olen != 4:
        raise PgmError("options do not start with OPT_LENGTH")
    if total < 8 or pos + total > len(buf):
        raise PgmError("bad total options length")
    end = pos + total
    at = pos + 4
    count = 0
    while True:
        if at + 4 > end:
            raise PgmError("truncated option")
        otype, olen = buf[at], buf[at + 1]
        if olen < 4 or at + olen > end:
            raise PgmError("bad option length")
        count += 1
        if count > MAX_OPTIONS:
            raise PgmError("too many options")
        kind = otype & OPT_MASK
        value = buf[at + 4 : at + olen]
        if kind == OPT_FRAGMENT:
            if olen != 16:
                raise PgmError("bad OPT_FRAGMENT")
            first, off, length = struct.unpack_from(">III", value)
            if length == 0 or off >= length:
                raise PgmError("bad OPT_FRAGMENT values")
            pkt.fragment = (first, off, length)
        elif kind == OPT_NAK_LIST:
            n, rem = divmod(olen - 4, 4)
            if rem or n == 0 or n > MAX_NAK_LIST:
                raise PgmError("bad OPT_NAK_LIST")
            pkt.nak_list = struct.unpack_from(f">{n}I", value)
        elif kind == OPT_JOIN:
            if olen != 8:
                raise PgmError("bad OPT_JOIN")
            pkt.join = U32.unpack_from(value)[0]
        elif kind == OPT_FIN:
            pkt.fin = True
        elif kind == OPT_SYN:
            pkt.syn = True
        elif kind == OPT_RST:
            pkt.rst = True
        elif kind == OPT_LENGTH:
            raise PgmError("OPT_LENGTH repeated")
        at += olen
        if otype & OPT_END:
            break
    if at != end:
        raise PgmError("options shorter than OPT_LENGTH says")
    return end


def parse(data: bytes | bytearray | memoryview) -> Packet:
    """Parse one PGM packet (the UDP payload for epgm, the IP payload for pgm)."""
    buf = memoryview(bytes(data))
    if len(buf) < HEADER_LEN:
        raise PgmError("shorter than a PGM header")
    sport, dport, ptype, flags, csum, gsi, tsdu_len = HEADER.unpack_from(buf, 0)
    if ptype not in TYPE_NAMES:
        raise PgmError(f"unknown packet type {ptype:#x}")
    if csum:
        raw = bytearray(buf)
        raw[6:8] = b"\x00\x00"
        if checksum(raw) != csum:
            raise PgmError("checksum mismatch")
    elif ptype in (ODATA, RDATA):
        raise PgmError("data packet without checksum")
    pkt = Packet(ptype, sport, dport, bytes(gsi), flags)
    pos = HEADER_LEN
    if ptype == SPM:
        if len(buf) < pos + SPM_HDR.size:
            raise PgmError("truncated SPM")
        pkt.sqn, pkt.trail, pkt.lead, _afi, _r = SPM_HDR.unpack_from(buf, pos)
        pkt.nla, pos = _read_nla(buf, pos + 12)
    elif ptype in (ODATA, RDATA):
        if len(buf) < pos + DATA_HDR.size:
            raise PgmError("truncated data header")
        pkt.sqn, pkt.trail = DATA_HDR.unpack_from(buf, pos)
        pos += DATA_HDR.size
    elif ptype in (NAK, NNAK, NCF):
        if len(buf) < pos + 4:
            raise PgmError("truncated NAK")
        pkt.sqn = U32.unpack_from(buf, pos)[0]
        pkt.nla, pos = _read_nla(buf, pos + 4)
        pkt.group, pos = _read_nla(buf, pos)
    elif ptype == POLL:
        if len(buf) < pos + 8:
            raise PgmError("truncated POLL")
        pkt.sqn = U32.unpack_from(buf, pos)[0]
        pkt.nla, pos = _read_nla(buf, pos + 8)
        if len(buf) < pos + 12:
            raise PgmError("truncated POLL")
        pos += 12
    elif ptype == POLR:
        if len(buf) < pos + 8:
            raise PgmError("truncated POLR")
        pkt.sqn = U32.unpack_from(buf, pos)[0]
        pos += 8
    elif ptype == ACK:
        if len(buf) < pos + 8:
            raise PgmError("truncated ACK")
        pkt.sqn = U32.unpack_from(buf, pos)[0]
        pos += 8
    # SPMR: no fields
    if flags & OPT_PRESENT:
        pos = _parse_options(pkt, buf, pos)
    if ptype in (ODATA, RDATA):
        if tsdu_len != len(buf) - pos:
            raise PgmError("TSDU length does not match the packet")
        pkt.data = bytes(buf[pos:])
    if pkt.fragment is not None and ptype not in (ODATA, RDATA):
        raise PgmError("OPT_FRAGMENT on a packet without data")
    return pkt


# -- building -------------------------------------------------------------------------------------
def _finish(buf: bytearray) -> bytes:
    buf[6:8] = b"\x00\x00"
    buf[6:8] = checksum(buf).to_bytes(2, "big")
    return bytes(buf)


def _header(ptype: int, sport: int, dport: int, gsi: bytes, flags: int, tsdu_len: int) -> bytearray:
    return bytearray(HEADER.pack(sport, dport, ptype, flags, 0, gsi, tsdu_len))


def _options(items: list[tuple[int, bytes]]) -> bytes:
    """OPT_LENGTH followed by ``items`` ((type, value) pairs), the last one flagged END."""
    body = bytearray()
    for i, (otype, value) in enumerate(items):
        if i == len(items) - 1:
            otype |= OPT_END
        body += struct.pack(">BBH", otype, 4 + len(value), 0) + value
    return struct.pack(">BBH", OPT_LENGTH, 4, 4 + len(body)) + bytes(body)


def build_spm(
    sport: int,
    dport: int,
    gsi: bytes,
    sqn: int,
    trail: int,
    lead: int,
    nla: str,
    *,
    fin: bool = False,
) -> bytes:
    afi, addr = _nla_bytes(nla)
    opts = _options([(OPT_FIN, b"")]) if fin else b""
    buf = _header(SPM, sport, dport, gsi, OPT_PRESENT if fin else 0, 0)
    buf += SPM_HDR.pack(sqn & SQN_MASK, trail & SQN_MASK, lead & SQN_MASK, afi, 0) + addr + opts
    return _finish(buf)


def build_data(
    ptype: int, sport: int, dport: int, gsi: bytes, sqn: int, trail: int, tsdu: bytes
) -> bytes:
    buf = _header(ptype, sport, dport, gsi, 0, len(tsdu))
    buf += DATA_HDR.pack(sqn & SQN_MASK, trail & SQN_MASK)
    buf += tsdu
    return _finish(buf)


def build_nak(
    ptype: int,
    sport: int,
    dport: int,
    gsi: bytes,
    sqns: list[int] | tuple[int, ...],
    source_nla: str,
    group_nla: str,
) -> bytes:
    """A NAK, NNAK or NCF naming up to 63 sequence numbers (the rest in OPT_NAK_LIST)."""
    if not 1 <= len(sqns) <= MAX_NAK_LIST + 1:
        raise ValueError("a NAK names 1 to 63 sequence numbers")
    safi, saddr = _nla_bytes(source_nla)
    gafi, gaddr = _nla_bytes(group_nla)
    rest = sqns[1:]
    opts = _options([(OPT_NAK_LIST, struct.pack(f">{len(rest)}I", *rest))]) if rest else b""
    buf = _header(ptype, sport, dport, gsi, OPT_PRESENT if rest else 0, 0)
    buf += U32.pack(sqns[0] & SQN_MASK)
    buf += NLA_HDR.pack(safi, 0) + saddr + NLA_HDR.pack(gafi, 0) + gaddr + opts
    return _finish(buf)


def build_spmr(sport: int, dport: int, gsi: bytes) -> bytes:
    return _finish(_header(SPMR, sport, dport, gsi, 0, 0))


def max_tsdu(max_tpdu: int, *, ipv6: bool, udp: bool) -> int:
    """The largest TSDU of an unfragmented ODATA in a ``max_tpdu``-byte IP packet (OpenPGM's
    MSS)."""
    ip_header = (40 if ipv6 else 20) + (8 if udp else 0)
    return max_tpdu - ip_header - DATA_HEADER_LEN
