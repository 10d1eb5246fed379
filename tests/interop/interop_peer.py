"""A remote-controlled ZeroMQ peer: ``python interop_peer.py pyzmq|purezmq``.

The test process drives this process over its stdin/stdout with length-prefixed pickles:
a request is ``(op, args)``, an answer is ``("ok", value)``, ``("zmqerr", errno, text)`` or
``("exc", text)``.  Sockets live in this process (made with pyzmq or with purezmq, picked by
``argv[1]``) and are named by small integers.  Nothing here is specific to a test: the test
process calls socket methods by name (see ``interop_harness.RemoteSocket``).

For purezmq the parent puts the repository's ``src`` on ``PYTHONPATH``; for pyzmq it does
not matter (``src`` holds no ``zmq`` package).
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import threading
import traceback

_LEN = struct.Struct("<Q")


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _picklable(value):
    if value is None or isinstance(value, (bytes, str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_picklable(v) for v in value)
    try:
        pickle.dumps(value)
    except Exception:
        return None  # e.g. pyzmq's bind() context object
    return value


def run_broker(zmq, front, back, stop: threading.Event) -> None:
    """Forward whole messages both ways until ``stop`` is set (a ROUTER/DEALER queue)."""
    poller = zmq.Poller()
    poller.register(front, zmq.POLLIN)
    poller.register(back, zmq.POLLIN)
    while not stop.is_set():
        for sock, _ in poller.poll(50):
            msg = sock.recv_multipart(zmq.NOBLOCK)
            (back if sock is front else front).send_multipart(msg)


def main() -> None:
    lib = sys.argv[1]
    if lib == "pyzmq":
        import zmq
    elif lib == "purezmq":
        import purezmq as zmq

        assert "zmq" not in sys.modules, "purezmq must not import pyzmq"
    else:
        raise SystemExit(f"unknown library {lib!r}")
    rfd = sys.stdin.buffer.fileno()
    wfd = os.dup(sys.stdout.buffer.fileno())
    sys.stdout = sys.stderr  # stray prints must not corrupt the protocol stream
    ctx = zmq.Context()
    socks: dict[int, object] = {}
    brokers: dict[int, tuple[threading.Thread, threading.Event]] = {}
    next_id = 0

    def close_all() -> None:
        for thread, stop in brokers.values():
            stop.set()
            thread.join(5)
        brokers.clear()
        for s in socks.values():
            s.close(linger=0)
        socks.clear()

    while True:
        try:
            (n,) = _LEN.unpack(_read_exact(rfd, _LEN.size))
            op, args = pickle.loads(_read_exact(rfd, n))
        except EOFError:
            break
        try:
            if op == "socket":
                (stype,) = args
                s = ctx.socket(stype)
                next_id += 1
                socks[next_id] = s
                result = next_id
            elif op == "call":
                sid, method, a, kw = args
                result = _picklable(getattr(socks[sid], method)(*a, **kw))
            elif op == "close":
                (sid, linger) = args
                socks.pop(sid).close(linger=linger)
                result = None
            elif op == "broker":
                front, back = args
                stop = threading.Event()
                thread = threading.Thread(
                    target=run_broker, args=(zmq, socks[front], socks[back], stop), daemon=True
                )
                thread.start()
                brokers[front] = (thread, stop)
                result = front
            elif op == "stop_broker":
                (key,) = args
                thread, stop = brokers.pop(key)
                stop.set()
                thread.join(5)
                result = not thread.is_alive()
            elif op == "reset":
                close_all()
                result = None
            elif op == "info":
                result = {"lib": lib, "pid": os.getpid(), "module": zmq.__name__}
            elif op == "exit":
                close_all()
                ctx.term()
                reply = pickle.dumps(("ok", None))
                _write_all(wfd, _LEN.pack(len(reply)) + reply)
                break
            else:
                raise ValueError(f"unknown op {op!r}")
            reply = ("ok", result)
        except zmq.ZMQError as e:
            reply = ("zmqerr", e.errno, str(e))
        except Exception:
            reply = ("exc", traceback.format_exc())
        data = pickle.dumps(reply)
        _write_all(wfd, _LEN.pack(len(data)) + data)


if __name__ == "__main__":
    main()
