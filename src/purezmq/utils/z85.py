"""Z85 (RFC 32): the printable form of CURVE keys, with pyzmq's ``zmq.utils.z85`` API.

Every 4 bytes (one big-endian 32-bit word) become 5 characters of a base-85 alphabet
chosen to be safe inside quotes in source code and on a command line.  Lengths that are
not multiples of 4 (or 5 when decoding) are refused with ``ValueError``, as pyzmq does;
so are characters outside the alphabet and 5-character groups above 2**32 - 1 (where
pyzmq leaks a ``KeyError`` or ``struct.error``).
"""

from __future__ import annotations

import struct
from typing import Final, Union

__all__ = ["Z85CHARS", "Z85MAP", "decode", "encode"]

_RawBytes = Union[bytes, bytearray, memoryview]

Z85CHARS: Final = (
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)
Z85MAP: Final[dict[int, int]] = {c: i for i, c in enumerate(Z85CHARS)}

_85_2 = 85 * 85
_85_4 = _85_2 * _85_2
# Two characters at a time: any value below 85**2 maps to its 2-character spelling, so a
# word is one leading character plus two table lookups instead of five divisions.
_ONE: Final = [bytes((c,)) for c in Z85CHARS]
_TWO: Final = [a + b for a in _ONE for b in _ONE]
# Character code -> digit value, -1 for characters outside the alphabet.
_VALUE: Final = [Z85MAP.get(c, -1) for c in range(256)]


def encode(rawbytes: _RawBytes) -> bytes:
    """Encode raw bytes (a multiple of 4 long) as Z85."""
    n = len(rawbytes)
    if n % 4:
        raise ValueError(f"length must be multiple of 4, not {n}")
    one, two = _ONE, _TWO
    out = []
    for (v,) in struct.iter_unpack(">I", rawbytes):
        d0, rest = divmod(v, _85_4)
        hi, lo = divmod(rest, _85_2)
        out.append(one[d0] + two[hi] + two[lo])
    return b"".join(out)


def decode(z85bytes: str | _RawBytes) -> bytes:
    """Decode Z85 text (a multiple of 5 long, ``str`` must be ASCII) to raw bytes."""
    if isinstance(z85bytes, str):
        try:
            z85bytes = z85bytes.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("string argument should contain only ASCII characters") from None
    data = bytes(z85bytes)
    n = len(data)
    if n % 5:
        raise ValueError(f"Z85 length must be multiple of 5, not {n}")
    if data.translate(None, Z85CHARS):
        raise ValueError("invalid character in Z85 input")
    value = _VALUE
    words = []
    for i in range(0, n, 5):
        v = 0
        for c in data[i : i + 5]:
            v = v * 85 + value[c]
        if v > 0xFFFFFFFF:
            raise ValueError(f"Z85 group {data[i : i + 5]!r} is larger than 32 bits")
        words.append(v)
    return struct.pack(f">{len(words)}I", *words)
