"""A peer process for the reliability tests: ``python peer.py LIB ROLE bind|connect ENDPOINT``.

LIB is ``pyzmq`` or ``purezmq``.  The peer prints ``READY`` once its socket is bound or
connected, then one line per message it receives (``R <gen> <seq>``, or ``BAD <why>`` for a
malformed one), written with one ``os.write`` each so that a SIGKILL loses no line of a message
the application already took.  It runs until killed.  Roles:

  pull, sub           receive and report
  push, pub           send ``relmsg`` messages of generation ``--gen`` (seq from 0) for ever
  rep, router         echo every request (``R`` lines too)
  req, dealer         send seq 0, 1, 2, ... and wait for each echo (report the echoes)
  pinger              a DEALER sending at ``--rate`` without waiting, reporting echoes

``--connect-timeout MS`` sets CONNECT_TIMEOUT.  ``--count N`` makes push/req/dealer/pinger
stop after N messages, wait for them to go out (LINGER -1) and print ``DONE <seconds>``.
``--heartbeat IVL,TIMEOUT`` (ms) sets ZMTP heartbeats; ``--monitor`` prints
``EV <event> <value> <endpoint>`` for each monitor event.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import relmsg  # noqa: E402


def out(line: str) -> None:
    os.write(1, (line + "\n").encode())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("lib", choices=["pyzmq", "purezmq"])
    ap.add_argument("role")
    ap.add_argument("mode", choices=["bind", "connect"])
    ap.add_argument("endpoint")
    ap.add_argument("--gen", type=int, default=0)
    ap.add_argument("--identity", default="")
    ap.add_argument("--rate", type=float, default=0.0, help="messages/s for senders, 0: max")
    ap.add_argument("--hwm", type=int, default=1000)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--heartbeat", default="")
    ap.add_argument("--monitor", action="store_true")
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--connect-timeout", type=int, default=0, help="CONNECT_TIMEOUT, ms")
    args = ap.parse_args()
    if args.lib == "pyzmq":
        import zmq
    else:
        import purezmq as zmq

    ctx = zmq.Context()
    kind = {
        "pull": zmq.PULL, "sub": zmq.SUB, "push": zmq.PUSH, "pub": zmq.PUB,
        "rep": zmq.REP, "router": zmq.ROUTER, "req": zmq.REQ, "dealer": zmq.DEALER,
        "pinger": zmq.DEALER,
    }[args.role]
    s = ctx.socket(kind)
    s.linger = 0
    s.sndhwm = s.rcvhwm = args.hwm
    s.reconnect_ivl = 20
    s.reconnect_ivl_max = 200
    if args.identity:
        s.setsockopt(zmq.ROUTING_ID, args.identity.encode())
    if args.role == "sub":
        s.setsockopt(zmq.SUBSCRIBE, b"")
    if args.connect_timeout:
        s.setsockopt(zmq.CONNECT_TIMEOUT, args.connect_timeout)
    if args.heartbeat:
        ivl, timeout = (int(x) for x in args.heartbeat.split(","))
        s.setsockopt(zmq.HEARTBEAT_IVL, ivl)
        s.setsockopt(zmq.HEARTBEAT_TIMEOUT, timeout)
        s.setsockopt(zmq.HEARTBEAT_TTL, timeout)
    if args.monitor:
        mon = s.get_monitor_socket()
        names = {int(getattr(zmq, n)): n[6:] for n in dir(zmq) if n.startswith("EVENT_")
                 and n not in ("EVENT_ALL", "EVENT_ALL_V1", "EVENT_ALL_V2")}

        def watch() -> None:
            while True:
                frames = mon.recv_multipart()
                event, value = struct.unpack("<HI", frames[0][:6])
                out(f"EV {names.get(event, event)} {value} {frames[1].decode()}")

        threading.Thread(target=watch, daemon=True).start()
    if args.mode == "bind":
        s.bind(args.endpoint)
    else:
        s.connect(args.endpoint)
    out("READY")

    def report(frames) -> None:
        try:
            gen, seq = relmsg.check(frames)
        except ValueError as e:
            out(f"BAD {e}")
        else:
            out(f"R {gen} {seq}")

    role = args.role
    period = 1.0 / args.rate if args.rate else 0.0
    count = args.count or float("inf")
    started = time.monotonic()

    def done() -> None:
        s.linger = -1
        s.close()
        if not args.monitor:  # (the monitor thread holds a socket of this context)
            ctx.term()  # returns once everything queued went out
        out(f"DONE {time.monotonic() - started:.3f}")
        os._exit(0)

    if role in ("pull", "sub"):
        while True:
            report(s.recv_multipart())
    elif role in ("push", "pub"):
        seq = 0
        start = time.monotonic()
        while seq < count:
            s.send_multipart(relmsg.make(seq, args.gen, args.size))
            seq += 1
            if period:
                delay = start + seq * period - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        done()
    elif role == "rep":
        while True:
            msg = s.recv_multipart()
            report(msg)
            s.send_multipart(msg)
    elif role == "router":
        while True:
            msg = s.recv_multipart()
            report(msg[1:])
            s.send_multipart(msg)
    elif role in ("req", "dealer"):
        seq = 0
        while seq < count:
            s.send_multipart(relmsg.make(seq, args.gen, args.size))
            report(s.recv_multipart())
            seq += 1
            if period:
                time.sleep(period)
        done()
    elif role == "pinger":
        seq = 0
        next_send = time.monotonic()
        while seq < count:
            now = time.monotonic()
            if now >= next_send:
                try:
                    s.send_multipart(relmsg.make(seq, args.gen, args.size), zmq.DONTWAIT)
                except zmq.Again:
                    pass
                seq += 1
                next_send += period or 0.01
            while s.poll(max(0, int((next_send - time.monotonic()) * 1000))):
                report(s.recv_multipart())
        done()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
