"""A bound socket in its own process, measured from outside: ``python probe.py LIB TYPE``.

LIB is ``pyzmq`` or ``purezmq``.  The probe binds a TYPE socket to an ephemeral tcp port,
prints ``PORT <n>``, then answers one command per stdin line with one stdout line:

  rss              ``RSS <KiB>`` (VmRSS)
  cpu              ``CPU <seconds>`` (user + system time of the whole process)
  fds              ``FDS <n>`` (open descriptors)
  exhaust          open descriptors until EMFILE: ``HELD <n>``
  release          close them again: ``RELEASED``
  recv             ``GOT <n>``: how many messages a non-blocking drain took
  quit             exit

Between commands nothing runs on the main thread, as in a server busy elsewhere; each
command first lets the socket process what its I/O thread posted (``poll(0)``).  Give
``--gc-off`` to disable the cycle collector (memory must then come back without it),
``--fd-limit N`` to lower the descriptor limit (so that ``exhaust`` is quick).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("lib", choices=["pyzmq", "purezmq"])
    ap.add_argument("type")
    ap.add_argument("--gc-off", action="store_true")
    ap.add_argument("--handshake-ivl", type=int, default=0, help="ms, 0: the default")
    ap.add_argument("--fd-limit", type=int, default=0, help="RLIMIT_NOFILE soft limit")
    args = ap.parse_args()
    if args.fd_limit:
        import resource

        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.fd_limit, hard))
    if args.lib == "pyzmq":
        import zmq
    else:
        import purezmq as zmq
    if args.gc_off:
        gc.disable()
    ctx = zmq.Context()
    s = ctx.socket(getattr(zmq, args.type))
    s.linger = 0
    if args.handshake_ivl:
        s.handshake_ivl = args.handshake_ivl
    port = s.bind_to_random_port("tcp://127.0.0.1")
    held: list[int] = []

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    say(f"PORT {port}")
    for line in sys.stdin:
        cmd = line.strip()
        s.poll(0)
        if cmd == "rss":
            say(f"RSS {rss_kb()}")
        elif cmd == "cpu":
            t = os.times()
            say(f"CPU {t.user + t.system:.4f}")
        elif cmd == "fds":
            say(f"FDS {len(os.listdir('/proc/self/fd'))}")
        elif cmd == "exhaust":
            try:
                while True:
                    held.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                pass
            say(f"HELD {len(held)}")
        elif cmd == "release":
            while held:
                os.close(held.pop())
            say("RELEASED")
        elif cmd == "recv":
            n = 0
            while True:
                try:
                    s.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                n += 1
            say(f"GOT {n}")
        elif cmd == "quit":
            break
    s.close(0)
    ctx.term()


if __name__ == "__main__":
    main()
