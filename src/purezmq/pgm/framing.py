"""libzmq's framing of messages over PGM (its ``pgm_sender`` / ``pgm_receiver``).

The messages of one source form a byte stream of ZMTP/1.0 frames: a length (one byte, or
``0xFF`` and 8 bytes big-endian) that counts the flags byte and the body, the flags byte
(bit 0: more frames follow), the body.  The stream is cut into APDUs of at most one TSDU;
each APDU starts with a 2-byte big-endian offset of the first *message* that begins in it
(``0xFFFF``: none does).  A receiver that joins late, or lost data it could not repair,
skips to that offset and decodes from there.
"""

from __future__ import annotations

import struct

NO_MESSAGE = 0xFFFF
MORE = 0x01
_U16 = struct.Struct(">H")
_U64 = struct.Struct(">Q")


class FramingError(ValueError):
    """The stream of one source is not valid framing (internal: the decoder counts it)."""


def encode_frames(msg, out: bytearray) -> None:
    """Append ``msg`` (``bytes`` for one frame, else a list of frames) to ``out`` as
    ZMTP/1.0 frames."""
    if msg.__class__ is bytes:
        msg = (msg,)
    last = len(msg) - 1
    for i, frame in enumerate(msg):
        size = len(frame) + 1
        flags = MORE if i < last else 0
        if size < 0xFF:
            out.append(size)
        else:
            out.append(0xFF)
            out += _U64.pack(size)
        out.append(flags)
        out += frame


class ApduEncoder:
    """Turns messages into APDUs of at most ``max_apdu`` bytes, offset header included.

    As libzmq, whatever is queued is sent at once: a batch of messages fills as many APDUs as
    it needs and the last one may be short; the next batch starts a new APDU.
    """

    def __init__(self, max_apdu: int) -> None:
        if max_apdu < 3:
            raise ValueError("an APDU must hold more than the offset")
        self.max_apdu = max_apdu

    def encode(self, messages) -> list[bytes]:
        stream = bytearray()
        starts: list[int] = []
        for msg in messages:
            starts.append(len(stream))
            encode_frames(msg, stream)
        if not stream:
            return []
        chunk = self.max_apdu - 2
        apdus = []
        si = 0
        for pos in range(0, len(stream), chunk):
            end = pos + chunk
            while si < len(starts) and starts[si] < pos:
                si += 1
            offset = starts[si] - pos if si < len(starts) and starts[si] < end else NO_MESSAGE
            apdus.append(_U16.pack(offset) + bytes(stream[pos:end]))
        return apdus


class ApduDecoder:
    """One source's stream back into messages; knows whether it has joined the stream.

    Bad framing (a frame without flags byte, one over ``MAXMSGSIZE``, an offset past the
    end) never raises: it is counted in ``errors`` and the decoder drops the partial message
    and waits for the next message start, as libzmq's ``pgm_receiver`` does.  Beyond
    libzmq, a joined decoder checks each APDU's offset against its own position: if a
    message is said to start where the decoder is mid-message (data corrupted or forged
    within the window), it drops the partial message and resynchronises there.
    """

    def __init__(self, max_msg_size: int = -1) -> None:
        self.max_msg_size = max_msg_size
        self.joined = False
        self.errors = 0
        self.resyncs = 0
        self._buf = bytearray()
        self._frames: list[bytes] = []

    def reset(self) -> None:
        """Data was lost for good: drop the partial message and wait for the next start."""
        self.joined = False
        self._buf.clear()
        self._frames = []

    def _fail(self) -> None:
        self.errors += 1
        self.reset()

    def feed(self, apdu: bytes) -> list[list[bytes]]:
        """Decode one APDU (in sequence order); return the messages it completes."""
        if len(apdu) < 2:
            self._fail()
            return []
        offset = _U16.unpack_from(apdu)[0]
        body = memoryview(apdu)[2:]
        if offset != NO_MESSAGE and offset > len(body):
            self._fail()
            return []
        out: list[list[bytes]] = []
        if not self.joined:
            if offset == NO_MESSAGE:
                return out
            body = body[offset:]
            self.joined = True
        elif offset != NO_MESSAGE:
            # Up to ``offset`` the bytes end the current message; check that they do.
            self._buf += body[:offset]
            try:
                out = self._decode()
            except FramingError:
                self.errors += 1
                out = []
            if self._buf or self._frames:
                self.resyncs += 1
                self._buf.clear()
                self._frames = []
            body = body[offset:]
        self._buf += body
        try:
            out += self._decode()
        except FramingError:
            self._fail()
        return out

    def _decode(self) -> list[list[bytes]]:
        buf = self._buf
        out: list[list[bytes]] = []
        pos = 0
        n = len(buf)
        limit = self.max_msg_size
        try:
            while pos < n:
                size = buf[pos]
                head = 1
                if size == 0xFF:
                    if n - pos < 9:
                        break
                    size = _U64.unpack_from(buf, pos + 1)[0]
                    head = 9
                if size == 0:
                    raise FramingError("frame without flags byte")
                if limit >= 0 and size - 1 > limit:
                    raise FramingError("frame larger than MAXMSGSIZE")
                if n - pos < head + size:
                    break
                flags = buf[pos + head]
                start = pos + head + 1
                self._frames.append(bytes(buf[start : pos + head + size]))
                pos += head + size
                if not flags & MORE:
                    out.append(self._frames)
                    self._frames = []
        finally:
            if pos:
                del buf[:pos]
        return out
