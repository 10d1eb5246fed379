"""Shared by the reliability tests, their peer processes and the long scripts.

Messages carry a sequence number and a checksum so that a receiver can tell a lost message
(a gap) from a duplicated one (a repeat) and from a corrupted one (a bad checksum):
``[header, payload]`` with ``header = (gen: u32, seq: u64, crc32(payload): u32)`` and a
payload whose length and bytes are derived from ``seq`` (so the receiver checks them too).
Nothing here imports a ZeroMQ library.
"""

from __future__ import annotations

import os
import struct
import zlib

HEADER = struct.Struct(">IQI")


def payload(seq: int, size: int | None = None) -> bytes:
    n = (seq * 7919) % 2048 if size is None else size
    unit = seq.to_bytes(8, "big")
    return (unit * (n // 8 + 1))[:n]


def make(seq: int, gen: int = 0, size: int | None = None) -> list[bytes]:
    body = payload(seq, size)
    return [HEADER.pack(gen, seq, zlib.crc32(body)), body]


def check(frames) -> tuple[int, int]:
    """``(gen, seq)`` of a well-formed message; ValueError when anything is off."""
    if len(frames) != 2:
        raise ValueError(f"{len(frames)} frames")
    header, body = bytes(frames[0]), bytes(frames[1])
    if len(header) != HEADER.size:
        raise ValueError("bad header size")
    gen, seq, crc = HEADER.unpack(header)
    if zlib.crc32(body) != crc:
        raise ValueError(f"bad checksum for seq {seq}")
    if body != payload(seq, len(body)):
        raise ValueError(f"bad payload bytes for seq {seq}")
    return gen, seq


def rss_kb() -> int:
    """Resident memory of this process (VmRSS from /proc/self/status), in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
