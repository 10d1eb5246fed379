"""ZMTP frame encoding and decoding.

A frame is ``flags`` (MORE=1, LONG=2, COMMAND=4), a size (1 byte, or 8 bytes big-endian
when LONG) and the body.  Encoding uses precomputed two-byte headers for short frames so
the common case allocates nothing but the output buffer.
"""

from __future__ import annotations

import struct

MORE = 0x01
LONG = 0x02
COMMAND = 0x04

_LONG_HDR = struct.Struct(">BQ")

# _SHORT[flags][size] -> the two header bytes of a short frame.
_SHORT: list[list[bytes]] = [[bytes((flags, n)) for n in range(256)] for flags in range(8)]
_SHORT_MSG = _SHORT[0]
SHORT_HEADERS = _SHORT_MSG  # the header of a short last frame, by body size (< 256)
_SHORT_MORE = _SHORT[MORE]


def frame_header(flags: int, size: int) -> bytes:
    """The header of one frame with ``size`` body bytes."""
    if size < 256:
        return _SHORT[flags][size]
    return _LONG_HDR.pack(flags | LONG, size)


def encode_command(name: bytes, data: bytes = b"") -> bytes:
    """A whole command frame: name length, name, data."""
    body = bytes((len(name),)) + name + data
    return frame_header(COMMAND, len(body)) + body


def encode_messages(msgs, out: list) -> int:
    """Append the wire form of each message (``bytes`` for one frame, else a list of
    frames) to ``out``; return the bytes."""
    total = 0
    append = out.append
    for msg in msgs:
        if msg.__class__ is bytes:
            msg = (msg,)
        last = len(msg) - 1
        for i, frame in enumerate(msg):
            n = len(frame)
            if n < 256:
                append((_SHORT_MORE if i < last else _SHORT_MSG)[n])
                total += 2 + n
            else:
                append(_LONG_HDR.pack(LONG | (MORE if i < last else 0), n))
                total += 9 + n
            append(frame)
    return total


def encode_queue(q, out: list, limit: int) -> object | None:
    """Pop plain messages (``bytes`` or lists of frames) from deque ``q`` and append their
    wire form to ``out`` until about ``limit`` bytes; stop early at an item that is not a
    plain message and return it (with the items popped so far encoded), else None.

    Popping and encoding in one pass is the sending side's whole per-message cost.
    """
    total = 0
    popleft = q.popleft
    append = out.append
    short_msg = _SHORT_MSG
    short_more = _SHORT_MORE
    pack = _LONG_HDR.pack
    while q and total < limit:
        msg = popleft()
        cls = msg.__class__
        if cls is bytes:  # a one-frame message: the common case
            n = len(msg)
            if n < 256:
                append(short_msg[n])
                total += n + 2
            else:
                append(pack(LONG, n))
                total += n + 9
            append(msg)
            continue
        if cls is not list:
            return msg
        last = len(msg) - 1
        for i, frame in enumerate(msg):
            n = len(frame)
            if n < 256:
                append((short_more if i < last else short_msg)[n])
                total += n + 2
            else:
                append(pack(LONG | (MORE if i < last else 0), n))
                total += n + 9
            append(frame)
    return None
