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

Thread rule: a :class:`Box` belongs to one connection, whose frames are boxed and opened by
one thread at a time (the connection's driver), so its buffers need no lock.
"""

from __future__ import annotations

from typing import Any

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


class Box:
    """Boxes and opens CurveZMQ MESSAGE payloads under one precomputed key.

    ``seal(flag, body, nonce)`` returns ``box(flag byte + body)``; ``open(box, nonce)``
    returns ``(flag byte, body)`` or raises :class:`CryptoError`.
    """

    __slots__ = ("_key", "_in", "_out", "_out1", "_cap", "_fast")

    def __init__(self, key: bytes, fast: bool | None = None) -> None:
        self._key = key
        self._fast = (_CFFI is not None) if fast is None else (fast and _CFFI is not None)
        self._cap = 0
        self._in: Any = None
        self._out: Any = None
        self._out1: Any = None

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

    def open(self, box: bytes, nonce: bytes) -> tuple[int, bytes]:
        if not self._fast:
            plain = _bindings.crypto_box_open_easy_afternm(box, nonce, self._key)
            return plain[0], plain[1:]
        ffi, lib = _CFFI  # type: ignore[misc]
        n = len(box)
        if n <= MAC:
            raise CryptoError("box too short")
        _, out, out1 = self._buffers(n)
        if lib.crypto_box_open_easy_afternm(out, box, n, nonce, self._key) != 0:
            raise CryptoError("An error occurred trying to decrypt the message")
        return out[0], ffi.buffer(out1, n - MAC - 1)[:]
