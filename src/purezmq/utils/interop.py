"""pyzmq's ``zmq.utils.interop``: addresses handed between libraries as ints."""

from __future__ import annotations

from typing import Any


def cast_int_addr(n: Any) -> int:
    """An address as a Python int: an int as is, or a CFFI pointer (when cffi is installed)
    cast to its integer value; anything else is a ValueError."""
    if isinstance(n, int):
        return n
    try:
        import cffi
    except ImportError:
        pass
    else:
        ffi = cffi.FFI()
        if isinstance(n, ffi.CData):
            return int(ffi.cast("size_t", n))
    raise ValueError(f"Cannot cast {n!r} to int")
