"""A libzmq built with the draft ws transport, driven through ctypes (opt-in).

Debian's libzmq5 and pyzmq's wheels are built without ws, so these tests run only when
``PUREZMQ_WS_LIBZMQ`` names a libzmq shared library that has it, e.g. one built with
``cmake -DENABLE_DRAFTS=ON -DENABLE_WS=ON`` from libzmq's sources.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading

import pytest

# libzmq's numbers (zmq.h)
REQ, REP, DEALER, ROUTER, PUB, SUB, PUSH, PULL = 3, 4, 5, 6, 1, 2, 8, 7
SUBSCRIBE, RCVTIMEO, SNDTIMEO, LINGER, LAST_ENDPOINT = 6, 27, 28, 17, 32
ROUTING_ID, HEARTBEAT_IVL, HEARTBEAT_TIMEOUT = 5, 75, 77
PLAIN_SERVER, PLAIN_USERNAME, PLAIN_PASSWORD = 44, 45, 46
CURVE_SERVER, CURVE_PUBLICKEY, CURVE_SECRETKEY, CURVE_SERVERKEY = 47, 48, 49, 50
SNDMORE, RCVMORE = 2, 13


def load():
    path = os.environ.get("PUREZMQ_WS_LIBZMQ")
    if not path:
        pytest.skip("PUREZMQ_WS_LIBZMQ names no libzmq built with ws")
    lib = ctypes.CDLL(path)
    lib.zmq_has.argtypes = [ctypes.c_char_p]
    if not lib.zmq_has(b"WS"):  # (libzmq's name for it: zmq_has("ws") is false even then)
        pytest.skip(f"{path} has no ws transport")
    lib.zmq_ctx_new.restype = ctypes.c_void_p
    lib.zmq_socket.restype = ctypes.c_void_p
    lib.zmq_socket.argtypes = [ctypes.c_void_p, ctypes.c_int]
    for name in ("zmq_bind", "zmq_connect"):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.zmq_setsockopt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
    lib.zmq_getsockopt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                   ctypes.POINTER(ctypes.c_size_t)]  # fmt: skip
    lib.zmq_send.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
    lib.zmq_recv.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    lib.zmq_close.argtypes = [ctypes.c_void_p]
    lib.zmq_ctx_term.argtypes = [ctypes.c_void_p]
    lib.zmq_errno.restype = ctypes.c_int
    return lib


class Socket:
    """Just enough of a libzmq socket for the interop tests."""

    def __init__(self, lib, ctx, kind: int) -> None:
        self.lib = lib
        self.s = lib.zmq_socket(ctx, kind)
        self.setint(LINGER, 0)
        self.setint(RCVTIMEO, 5000)
        self.setint(SNDTIMEO, 5000)

    def setint(self, opt: int, value: int) -> None:
        v = ctypes.c_int(value)
        assert self.lib.zmq_setsockopt(self.s, opt, ctypes.byref(v), 4) == 0

    def setbytes(self, opt: int, value: bytes) -> None:
        assert self.lib.zmq_setsockopt(self.s, opt, value, len(value)) == 0

    def bind(self, ep: str) -> str:
        assert self.lib.zmq_bind(self.s, ep.encode()) == 0, self.lib.zmq_errno()
        buf = ctypes.create_string_buffer(256)
        size = ctypes.c_size_t(256)
        assert self.lib.zmq_getsockopt(self.s, LAST_ENDPOINT, buf, ctypes.byref(size)) == 0
        return buf.value.decode()

    def connect(self, ep: str) -> None:
        assert self.lib.zmq_connect(self.s, ep.encode()) == 0, self.lib.zmq_errno()

    def send_multipart(self, frames: list[bytes]) -> None:
        for i, f in enumerate(frames):
            flags = SNDMORE if i < len(frames) - 1 else 0
            assert self.lib.zmq_send(self.s, f, len(f), flags) == len(f), self.lib.zmq_errno()

    def recv_multipart(self) -> list[bytes]:
        frames = []
        while True:
            buf = ctypes.create_string_buffer(1 << 20)
            n = self.lib.zmq_recv(self.s, buf, 1 << 20, 0)
            assert n >= 0, f"zmq_recv failed: errno {self.lib.zmq_errno()}"
            frames.append(buf.raw[:n])
            more = ctypes.c_int(0)
            size = ctypes.c_size_t(4)
            self.lib.zmq_getsockopt(self.s, RCVMORE, ctypes.byref(more), ctypes.byref(size))
            if not more.value:
                return frames

    def close(self) -> None:
        self.lib.zmq_close(self.s)


@contextlib.contextmanager
def zap_handler(lib, ctx):
    """A ZAP handler in the libzmq context that accepts everybody (libzmq's PLAIN and CURVE
    servers refuse every client when no handler answers)."""
    stop = threading.Event()
    ready = threading.Event()

    def run() -> None:
        rep = Socket(lib, ctx, REP)
        rep.setint(RCVTIMEO, 100)
        rep.bind("inproc://zeromq.zap.01")
        ready.set()
        while not stop.is_set():
            try:
                req = rep.recv_multipart()
            except AssertionError:  # EAGAIN: look at stop again
                continue
            rep.send_multipart([req[0], req[1], b"200", b"OK", b"user", b""])
        rep.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
