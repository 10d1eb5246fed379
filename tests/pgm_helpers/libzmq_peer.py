"""Drive Debian's libzmq (built with OpenPGM) through ctypes, as a separate process.

pyzmq's wheel bundles a libzmq without PGM, so the interop tests talk to ``libzmq.so.5``
directly.  The process reads JSON commands, one a line, on stdin and answers JSON lines on
stdout; frames travel hex-encoded.  Commands::

    {"op": "socket", "type": "PUB", "options": {"RATE": 1000}}
    {"op": "connect", "endpoint": "epgm://veth0;239.1.2.3:5555"}   (or "bind")
    {"op": "subscribe", "topic": "<hex>"}
    {"op": "send", "frames": ["<hex>", ...]}
    {"op": "recv", "timeout": 1000}          -> {"frames": [...]} or {"error": errno}
    {"op": "close"}                           -> closes socket and context, then exits

Every command answers ``{"ok": true, ...}`` or ``{"error": errno, "strerror": ...}``.
Run with ``--check`` to exit 0 only when libzmq.so.5 loads and has the pgm transport.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

TYPES = {"PUB": 1, "SUB": 2, "XPUB": 9, "XSUB": 10, "PUSH": 8, "PULL": 7}
OPTIONS = {
    "SUBSCRIBE": 6,
    "RATE": 8,
    "RECOVERY_IVL": 9,
    "SNDBUF": 11,
    "RCVBUF": 12,
    "RCVMORE": 13,
    "LINGER": 17,
    "SNDHWM": 23,
    "RCVHWM": 24,
    "MULTICAST_HOPS": 25,
    "RCVTIMEO": 27,
    "MULTICAST_MAXTPDU": 84,
    "MULTICAST_LOOP": 96,
}
SNDMORE = 2
BUFSIZE = 1 << 20


def load():
    lib = ctypes.CDLL("libzmq.so.5", use_errno=True)
    lib.zmq_ctx_new.restype = ctypes.c_void_p
    lib.zmq_ctx_term.argtypes = [ctypes.c_void_p]
    lib.zmq_socket.restype = ctypes.c_void_p
    lib.zmq_socket.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.zmq_close.argtypes = [ctypes.c_void_p]
    lib.zmq_setsockopt.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
    lib.zmq_getsockopt.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_size_t),
    ]
    lib.zmq_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.zmq_bind.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.zmq_send.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    lib.zmq_recv.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    lib.zmq_errno.restype = ctypes.c_int
    lib.zmq_strerror.restype = ctypes.c_char_p
    lib.zmq_strerror.argtypes = [ctypes.c_int]
    lib.zmq_has.argtypes = [ctypes.c_char_p]
    lib.zmq_has.restype = ctypes.c_int
    return lib


class Peer:
    def __init__(self, lib) -> None:
        self.lib = lib
        self.ctx = lib.zmq_ctx_new()
        self.sock = None
        self.buf = ctypes.create_string_buffer(BUFSIZE)

    def fail(self) -> dict:
        e = self.lib.zmq_errno()
        return {"error": e, "strerror": self.lib.zmq_strerror(e).decode()}

    def setopt(self, name: str, value) -> bool:
        opt = OPTIONS[name]
        if isinstance(value, str):
            data = bytes.fromhex(value)
            return self.lib.zmq_setsockopt(self.sock, opt, data, len(data)) == 0
        v = ctypes.c_int(int(value))
        return self.lib.zmq_setsockopt(self.sock, opt, ctypes.byref(v), ctypes.sizeof(v)) == 0

    def getint(self, name: str) -> int:
        v = ctypes.c_int(0)
        size = ctypes.c_size_t(ctypes.sizeof(v))
        self.lib.zmq_getsockopt(self.sock, OPTIONS[name], ctypes.byref(v), ctypes.byref(size))
        return v.value

    def handle(self, cmd: dict) -> dict:
        op = cmd["op"]
        lib = self.lib
        if op == "socket":
            self.sock = lib.zmq_socket(self.ctx, TYPES[cmd["type"]])
            if not self.sock:
                return self.fail()
            self.setopt("LINGER", cmd.get("linger", 2000))
            for name, value in cmd.get("options", {}).items():
                if not self.setopt(name, value):
                    return self.fail()
            return {"ok": True}
        if op in ("connect", "bind"):
            fn = lib.zmq_connect if op == "connect" else lib.zmq_bind
            if fn(self.sock, cmd["endpoint"].encode()) != 0:
                return self.fail()
            return {"ok": True}
        if op == "subscribe":
            return {"ok": True} if self.setopt("SUBSCRIBE", cmd["topic"]) else self.fail()
        if op == "send":
            frames = [bytes.fromhex(f) for f in cmd["frames"]]
            for i, frame in enumerate(frames):
                flags = SNDMORE if i < len(frames) - 1 else 0
                if lib.zmq_send(self.sock, frame, len(frame), flags) < 0:
                    return self.fail()
            return {"ok": True}
        if op == "recv":
            self.setopt("RCVTIMEO", cmd.get("timeout", 1000))
            frames = []
            while True:
                n = lib.zmq_recv(self.sock, self.buf, BUFSIZE, 0)
                if n < 0:
                    return self.fail()
                frames.append(self.buf.raw[: min(n, BUFSIZE)].hex())
                if not self.getint("RCVMORE"):
                    return {"ok": True, "frames": frames}
        if op == "close":
            if self.sock:
                lib.zmq_close(self.sock)
                self.sock = None
            lib.zmq_ctx_term(self.ctx)
            return {"ok": True, "bye": True}
        return {"error": 22, "strerror": f"unknown op {op!r}"}


def main() -> int:
    try:
        lib = load()
    except OSError as e:
        if "--check" in sys.argv:
            print(f"libzmq.so.5 not loadable: {e}")
            return 1
        raise
    if "--check" in sys.argv:
        if not lib.zmq_has(b"pgm"):
            print("libzmq.so.5 has no pgm transport")
            return 1
        print("ok")
        return 0
    # OpenPGM logs to stdout: keep the protocol on a private copy of it, logs on stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    peer = Peer(lib)
    print(json.dumps({"ok": True, "ready": True}), file=out, flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        answer = peer.handle(json.loads(line))
        print(json.dumps(answer), file=out, flush=True)
        if answer.get("bye"):
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
