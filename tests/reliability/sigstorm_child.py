"""Child of ``test_shutdown.py::test_sigint_storm``: ``python sigstorm_child.py [nohost]``.

A PULL in the main thread receives a never-ending stream from a PUSH in another thread while
the parent sends SIGINT every few milliseconds; every KeyboardInterrupt raised inside
``recv_multipart`` is caught and the loop goes on (as a notebook user does after
"interrupt kernel").  When stdin says ``STOP`` the storm is over: the PULL must go on
receiving intact messages.  Prints one ``RESULT {json}`` line.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import relmsg  # noqa: E402

import purezmq as zmq  # noqa: E402

if "nohost" in sys.argv:
    import purezmq.io.host as host

    host.MAX_HOSTED = 0  # the I/O thread does all reading

ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.bind("tcp://127.0.0.1:0")
ep = pull.last_endpoint.decode()
mon = pull.get_monitor_socket()
disconnects = []
stop_sending = threading.Event()


def watch() -> None:
    while True:
        try:
            frames = mon.recv_multipart()
        except zmq.ZMQError:
            return
        if struct.unpack("<HI", frames[0][:6])[0] == zmq.EVENT_DISCONNECTED:
            disconnects.append(1)


def send() -> None:
    c = zmq.Context()
    p = c.socket(zmq.PUSH)
    p.sndtimeo = 100
    p.connect(ep)
    seq = 0
    while not stop_sending.is_set():
        try:
            p.send_multipart(relmsg.make(seq))
            seq += 1
        except zmq.Again:
            pass
    p.close(0)
    c.term()


storm_over = threading.Event()


def read_stdin() -> None:
    for line in sys.stdin:
        if line.strip() == "STOP":
            storm_over.set()
            return


inside = [False]


def handler(sig, frame) -> None:
    # Raise only inside recv (the loop's own bookkeeping is not under test).
    if inside[0]:
        inside[0] = False
        raise KeyboardInterrupt


signal.signal(signal.SIGINT, handler)
for fn in (watch, send, read_stdin):
    threading.Thread(target=fn, daemon=True).start()
res = dict(received=0, bad=0, gaps=0, interrupts=0, after_storm=0, stalled=False)
expected = 0
pull.rcvtimeo = 5000
print("READY", flush=True)
while res["after_storm"] < 2000:
    try:
        inside[0] = True
        msg = pull.recv_multipart()
        inside[0] = False
    except KeyboardInterrupt:
        res["interrupts"] += 1
        continue
    except zmq.Again:
        inside[0] = False
        if storm_over.is_set():
            res["stalled"] = True
            break
        continue
    try:
        _gen, seq = relmsg.check(msg)
    except ValueError:
        res["bad"] += 1
        continue
    if seq < expected:
        res["bad"] += 1  # a repeat
        continue
    res["gaps"] += seq - expected
    expected = seq + 1
    res["received"] += 1
    if storm_over.is_set():
        res["after_storm"] += 1
signal.signal(signal.SIGINT, signal.SIG_IGN)
res["disconnects"] = len(disconnects)
print("RESULT " + json.dumps(res), flush=True)
stop_sending.set()
os._exit(0)
