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


class Properties(dict):
    """A decoded property list: ``name -> value``, the first value of a repeated name (as
    libzmq's map keeps it); :attr:`repeated` holds every value of each repeated name, in
    order, for the checks that must see them all (each ``Socket-Type``, the last
    ``Identity``): see :func:`get_all`."""

    __slots__ = ("repeated",)

    def __init__(self) -> None:
        super().__init__()
        self.repeated: dict[str, list[bytes]] = {}


def decode_metadata(data: bytes) -> Properties:
    """Decode a property list; a truncated one is a protocol error.

    Names compare case-insensitively in ZMTP, so keys keep the sender's spelling and
    :func:`get_property` looks them up without case.  A name sent twice keeps its first
    value (libzmq's rule); :attr:`Properties.repeated` has them all.
    """
    props = Properties()
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
        value = bytes(data[pos : pos + size])
        if name in props:
            props.repeated.setdefault(name, [props[name]]).append(value)
        else:
            props[name] = value
        pos += size
    return props


def get_all(props: dict[str, bytes], name: str) -> list[bytes]:
    """Every value given for ``name`` (case-insensitive), in the order sent."""
    lname = name.lower()
    repeated = getattr(props, "repeated", {})
    out: list[bytes] = []
    for key, value in props.items():
        if key.lower() == lname:
            out.extend(repeated.get(key, (value,)))
    return out


def get_property(props: dict[str, bytes], name: str) -> bytes | None:
    """Case-insensitive lookup of a ZMTP property."""
    lname = name.lower()
    for key, value in props.items():
        if key.lower() == lname:
            return value
    return None
