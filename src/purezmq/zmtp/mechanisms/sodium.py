"""The per-message CurveZMQ box: one precomputed key, libsodium reached as thinly as we can.

A CURVE connection boxes and opens every frame with ``crypto_box_easy_afternm`` and
``crypto_box_open_easy_afternm`` under one precomputed key.  PyNaCl's public wrappers
(``nacl.bindings``) check their arguments, allocate a fresh C buffer and copy it out on every
call: about 3.7 us per 64-byte message here, where the libsodium primitive itself takes well
under a microsecond.  PyNaCl's own cffi module (``nacl._sodium``, the ``ffi``/``lib`` pair its
wrappers call) reaches the same functions with none of that, into buffers this object keeps.
That module is PyNaCl's internal layer, so it is used only when it has what we need, and the
public wrappers remain the fallback: the result is the same bytes either way (the tests run
both).

Whole batches of traffic go through :meth:`Box.seal_messages` and :meth:`Box.open_messages`:
one loop per batch that writes the MESSAGE frames (header, nonce, box) straight into one
output buffer and reads them straight out of the received bytes, so a message costs the
libsodium call, a few buffer writes and one copy, not a chain of Python calls and joins.

Thread rule: a :class:`Box` belongs to one connection, whose frames are boxed and opened by
one thread at a time (the connection's driver), so its buffers need no lock.
"""

from __future__ import annotations

import struct
from typing import Any

from purezmq.zmtp.errors import ZmtpError

try:
    from nacl import bindings as _bindings
    from nacl.exceptions import CryptoError
except ImportError:  # pragma: no cover - only without PyNaCl (CURVE is then refused earlier)
    _bindings = None  # type: ignore[assignment]

    class CryptoError(Exception):  # type: ignore[no-redef]
        """Stands in for PyNaCl's CryptoError so ``except`` clauses stay valid."""


def _load_cffi() -> tuple[Any, Any] | None:
    try:
        from nacl import _sodium  # PyNaCl's cffi module: ffi + lib
    except ImportError:
        return None
    ffi, lib = getattr(_sodium, "ffi", None), getattr(_sodium, "lib", None)
    needed = ("crypto_box_easy_afternm", "crypto_box_open_easy_afternm")
    if ffi is None or lib is None or not all(hasattr(lib, n) for n in needed):
        return None
    return ffi, lib


_CFFI = _load_cffi()
MAC = 16  # crypto_box's authenticator
#: Buffers a Box keeps between calls grow to this size at most; larger frames use a buffer
#: of their own that is freed after the call, so an idle connection holds little.
KEEP = 64 * 1024
#: A MESSAGE frame's body beyond the payload: "\x07MESSAGE", short nonce, MAC, flag byte.
OVERHEAD = 8 + 8 + MAC + 1
_MAX_NONCE = (1 << 64) - 1
_NONCE = struct.Struct(">Q")
_SHORT_HEAD = struct.Struct(">BB8sQ")  # frame flags 0, size, "\x07MESSAGE", short nonce
_LONG_HEAD = struct.Struct(">BQ8sQ")  # frame flags LONG, size, "\x07MESSAGE", short nonce
_NAME = b"\x07MESSAGE"
_LONG = 0x02  # ZMTP's LONG frame flag


class Box:
    """Boxes and opens CurveZMQ MESSAGE payloads under one precomputed key.

    ``seal(flag, body, nonce)`` returns ``box(flag byte + body)``; ``open(box, nonce)``
    returns ``(flag byte, body)`` or raises :class:`CryptoError`.
    """

    __slots__ = ("_key", "_in", "_out", "_out1", "_cap", "_fast", "_send_prefix",
                 "_recv_prefix", "_bin", "_bout", "_bopen", "_nonce_in", "_nonce_out")

    def __init__(self, key: bytes, fast: bool | None = None, send_prefix: bytes = b"",
                 recv_prefix: bytes = b"") -> None:
        self._key = key
        self._fast = (_CFFI is not None) if fast is None else (fast and _CFFI is not None)
        self._cap = 0
        self._in: Any = None
        self._out: Any = None
        self._out1: Any = None
        # The 16-byte nonce prefixes of MESSAGE traffic each way (the batch methods).
        self._send_prefix = send_prefix
        self._recv_prefix = recv_prefix
        # The batch methods' buffers: (bytearray, pointer, pointer at +1 as char *), and
        # the 24-byte nonce each way (prefix + short nonce), made on first use.
        self._bin: Any = None
        self._bout: Any = None
        self._bopen: Any = None
        self._nonce_in: Any = None
        self._nonce_out: Any = None

    def _buffers(self, size: int) -> tuple[Any, Any, Any]:
        """Input and output buffers of at least ``size`` bytes (kept when small), and the
        output at offset 1."""
        if size <= self._cap:
            return self._in, self._out, self._out1
        ffi = _CFFI[0]  # type: ignore[index]
        cap = max(256, 1 << (size - 1).bit_length())
        inb = ffi.new("unsigned char[]", cap)
        out = ffi.new("unsigned char[]", cap)
        if cap <= KEEP:
            self._in, self._out, self._out1, self._cap = inb, out, out + 1, cap
        return inb, out, out + 1

    def seal(self, flag: int, body: bytes, nonce: bytes) -> bytes:
        if not self._fast:
            return _bindings.crypto_box_easy_afternm(bytes((flag,)) + body, nonce, self._key)
        ffi, lib = _CFFI  # type: ignore[misc]
        n = len(body) + 1
        inb, out, _ = self._buffers(n + MAC)
        inb[0] = flag
        ffi.memmove(inb + 1, body, n - 1)
        lib.crypto_box_easy_afternm(out, inb, n, nonce, self._key)
        return ffi.buffer(out, n + MAC)[:]

    def open(self, box, nonce: bytes) -> tuple[int, bytes]:
        """``box`` may be any bytes-like object (a view into a received frame is read in
        place: a big frame is not copied before it is opened)."""
        if not self._fast:
            plain = _bindings.crypto_box_open_easy_afternm(bytes(box), nonce, self._key)
            return plain[0], plain[1:]
        ffi, lib = _CFFI  # type: ignore[misc]
        n = len(box)
        if n <= MAC:
            raise CryptoError("box too short")
        if n <= self._cap or n <= KEEP:
            _, out, out1 = self._buffers(n)
        else:  # big: an output buffer for this call alone (no input buffer needed)
            out = ffi.new("unsigned char[]", n)
            out1 = out + 1
        if box.__class__ is not bytes:
            box = ffi.from_buffer("unsigned char[]", box)
        if lib.crypto_box_open_easy_afternm(out, box, n, nonce, self._key) != 0:
            raise CryptoError("An error occurred trying to decrypt the message")
        return out[0], ffi.buffer(out1, n - MAC - 1)[:]

    # -- batches of MESSAGE frames -------------------------------------------------------
    @staticmethod
    def _area(size: int, keep: Any) -> tuple[Any, bool]:
        """A (bytearray, unsigned char pointer, char pointer at +1) of at least ``size``
        bytes: ``keep`` if large enough, else a new one; and whether to keep the new one."""
        if keep is not None and len(keep[0]) >= size:
            return keep, False
        ffi = _CFFI[0]  # type: ignore[index]
        cap = max(256, 1 << (size - 1).bit_length())
        buf = bytearray(cap)
        ptr = ffi.from_buffer("unsigned char[]", buf)
        return (buf, ptr, ffi.cast("char *", ptr) + 1), cap <= KEEP

    def _nonce_area(self, prefix: bytes) -> tuple[Any, Any]:
        buf = bytearray(prefix + bytes(8))
        return buf, _CFFI[0].from_buffer("unsigned char[]", buf)  # type: ignore[index]

    def seal_messages(self, msgs, out: list, nonce: int) -> tuple[int, int]:
        """Append the MESSAGE frames of ``msgs`` (each ``bytes`` for one frame, else a
        list of frames) to ``out``, their short nonces counting from ``nonce``.

        Returns (bytes appended, the next short nonce).  The frames are libzmq's: flags 0,
        the body ``"\x07MESSAGE"`` + short nonce + ``box(flag byte + frame)``.
        """
        if not self._fast:
            return self._seal_messages_slow(msgs, out, nonce)
        ffi, lib = _CFFI  # type: ignore[misc]
        seal = lib.crypto_box_easy_afternm
        key = self._key
        if self._nonce_out is None:
            self._nonce_out = self._nonce_area(self._send_prefix)
        nbuf, nptr = self._nonce_out
        pack_nonce = _NONCE.pack_into
        short_head = _SHORT_HEAD.pack_into
        bout, keep = self._area(4096, self._bout)
        if keep:
            self._bout = bout
        ob, op = bout[0], bout[1]
        ocap = len(ob)
        bin_, keep = self._area(256, self._bin)
        if keep:
            self._bin = bin_
        ib, ip = bin_[0], bin_[1]
        icap = len(ib)
        off = 0
        total = 0
        name = _NAME
        try:
            for m in msgs:
                if m.__class__ is bytes:
                    m = (m,)
                last = len(m) - 1
                for i, frame in enumerate(m):
                    size = len(frame)
                    if off + size + 42 > ocap:  # 42: the longest header + OVERHEAD
                        if off:
                            out.append(ffi.buffer(op, off)[:])
                            total += off
                            off = 0
                        if size + 42 > ocap:
                            bout, keep = self._area(size + 42, bout)
                            if keep:
                                self._bout = bout
                            ob, op = bout[0], bout[1]
                            ocap = len(ob)
                    if size >= icap:
                        bin_, keep = self._area(size + 1, bin_)
                        if keep:
                            self._bin = bin_
                        ib, ip = bin_[0], bin_[1]
                        icap = len(ib)
                    ib[0] = 1 if i < last else 0  # the MORE bit, inside the box
                    ib[1 : size + 1] = frame
                    pack_nonce(nbuf, 16, nonce)  # (a nonce past 2**64 - 1 does not pack)
                    if size + OVERHEAD < 256:
                        short_head(ob, off, 0, size + OVERHEAD, name, nonce)
                        off += 18
                    else:
                        _LONG_HEAD.pack_into(ob, off, _LONG, size + OVERHEAD, name, nonce)
                        off += 25
                    seal(op + off, ip, size + 1, nptr, key)
                    off += size + MAC + 1
                    nonce += 1
        except struct.error:
            raise ZmtpError("CURVE short nonce exhausted", kind="protocol") from None
        if off:
            out.append(ffi.buffer(op, off)[:])
            total += off
        return total, nonce

    def _seal_messages_slow(self, msgs, out: list, nonce: int) -> tuple[int, int]:
        total = 0
        prefix = self._send_prefix
        for m in msgs:
            if m.__class__ is bytes:
                m = (m,)
            last = len(m) - 1
            for i, frame in enumerate(m):
                if nonce > _MAX_NONCE:
                    raise ZmtpError("CURVE short nonce exhausted", kind="protocol")
                short = _NONCE.pack(nonce)
                box = self.seal(1 if i < last else 0, bytes(frame), prefix + short)
                size = len(box) + 16
                head = bytes((0, size)) if size < 256 else struct.pack(">BQ", _LONG, size)
                chunk = head + _NAME + short + box
                out.append(chunk)
                total += len(chunk)
                nonce += 1
        return total, nonce

    def open_messages(self, buf, pos: int, events: list, cur: list,
                      peer_nonce: int) -> tuple[int, list, int, Any]:
        """Open the whole MESSAGE frames in ``buf`` from ``pos`` on, delivering them as a
        decoder does: a one-frame message to ``events`` as ``bytes``, the frames of a
        longer one gathered in ``cur`` (a list) and appended to ``events`` when complete.

        Stops at the first thing it does not handle, having changed nothing for it: the
        end of the data or of a frame, another frame or command, a short nonce not above
        ``peer_nonce``, a box that does not open (the caller's slower path reports those),
        or a frame over :data:`KEEP` bytes.  It also stops after opening a frame whose
        flag byte is not a plain data frame's (a command inside the box) and returns it.

        Returns (position reached, ``cur``, the last short nonce accepted, ``None`` or
        the opened frame's (wire flag byte, body) for the caller to handle).
        """
        if not self._fast:
            return pos, cur, peer_nonce, None
        ffi, lib = _CFFI  # type: ignore[misc]
        unbox = lib.crypto_box_open_easy_afternm
        unpack = ffi.unpack
        key = self._key
        if self._nonce_in is None:
            self._nonce_in = self._nonce_area(self._recv_prefix)
        nbuf, nptr = self._nonce_in
        bout, keep = self._area(4096, self._bopen)
        if keep:
            self._bopen = bout
        op, op1 = bout[1], bout[2]
        ocap = len(bout[0])
        read_q = _NONCE.unpack_from
        pack_nonce = _NONCE.pack_into
        name = _NAME
        bp = None
        n = len(buf)
        append = events.append
        short_head = _SHORT_HEAD.unpack_from
        while n - pos >= 18:
            flags, size, head, short = short_head(buf, pos)
            if flags == 0 or flags == 4:  # libzmq sends flags 0; the COMMAND flag is allowed
                start = pos + 2
            elif (flags == 2 or flags == 6) and n - pos >= 25:
                (size,) = read_q(buf, pos + 1)
                if size > KEEP:
                    break
                start = pos + 9
                head = buf[start : start + 8]
                (short,) = read_q(buf, start + 8)
            else:
                break
            end = start + size
            if end > n or size < OVERHEAD or head != name or short <= peer_nonce:
                break
            blen = size - 16
            if blen > ocap:
                bout, keep = self._area(blen, bout)
                if keep:
                    self._bopen = bout
                op, op1 = bout[1], bout[2]
                ocap = len(bout[0])
            if bp is None:
                bp = ffi.from_buffer("unsigned char[]", buf)
            pack_nonce(nbuf, 16, short)
            if unbox(op, bp + (start + 16), blen, nptr, key) != 0:
                break
            peer_nonce = short
            pos = end
            flag = op[0]
            body = unpack(op1, blen - MAC - 1)
            if flag == 0:
                if cur:
                    cur.append(body)
                    append(cur)
                    cur = []
                else:
                    append(body)
            elif flag == 1:
                cur.append(body)
            else:
                return pos, cur, peer_nonce, (flag, body)
        return pos, cur, peer_nonce, None
