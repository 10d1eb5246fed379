"""ZMTP metadata (the property lists in READY, INITIATE and ZAP replies)."""

from __future__ import annotations

import struct

from purezmq.zmtp.errors import ZmtpError

_U32 = struct.Struct(">I")


def encode_metadata(props: dict[str, bytes]) -> bytes:
    """Encode ``name -> value`` as ZMTP properties (short name, 4-byte value length)."""
    parts = []
    for name, value in props.items():
        key = name.encode("ascii")
        parts.append(bytes((len(key),)) + key + _U32.pack(len(value)) + value)
    return b"".join(parts)


def decode_metadata(data: bytes) -> dict[str, bytes]:
    """Decode a property list; a truncated one is a protocol error.

    Names compare case-insensitively in ZMTP, so keys keep the sender's spelling and
    :func:`get_property` looks them up without case.
    """
    props: dict[str, bytes] = {}
    pos, end = 0, len(data)
    while pos < end:
        n = data[pos]
        pos += 1
        if n == 0 or pos + n + 4 > end:
            raise ZmtpError("malformed metadata", kind="protocol")
        try:
            name = bytes(data[pos : pos + n]).decode("ascii")
        except UnicodeDecodeError:
            raise ZmtpError("malformed metadata name", kind="protocol") from None
        pos += n
        (size,) = _U32.unpack_from(data, pos)
        pos += 4
        if pos + size > end:
            raise ZmtpError("malformed metadata value", kind="protocol")
        props[name] = bytes(data[pos : pos + size])
        pos += size
    return props


def get_property(props: dict[str, bytes], name: str) -> bytes | None:
    """Case-insensitive lookup of a ZMTP property."""
    lname = name.lower()
    for key, value in props.items():
        if key.lower() == lname:
            return value
    return None
