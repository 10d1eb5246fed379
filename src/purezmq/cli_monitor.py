"""``purezmq monitor``: watch a socket's connection events live.

It makes a socket of the given type, binds and/or connects it, and prints every monitor
event (``CONNECTED``, ``ACCEPTED``, ``HANDSHAKE_SUCCEEDED``, ``DISCONNECTED``, ...) as it
happens, so you can see whether peers reach an endpoint and why handshakes fail.
"""

from __future__ import annotations

import argparse
import time

import purezmq as zmq
from purezmq.utils.monitor import recv_monitor_message

HELP = "print a socket's connection events live (connects, accepts, handshakes, failures)"


def _event_names() -> dict[int, str]:
    return {int(e): e.name for e in zmq.Event if e.name and e.name not in ("ALL", "ALL_V1")}


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--type", default="DEALER", help="socket type (default DEALER)")
    parser.add_argument("--bind", action="append", default=[], metavar="EP")
    parser.add_argument("--connect", action="append", default=[], metavar="EP")
    parser.add_argument("--count", type=int, default=0, help="stop after N events")
    parser.add_argument("--timeout", type=int, default=0, metavar="MS",
                        help="stop after MS milliseconds (0: run until Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    from purezmq.__main__ import UsageError

    name = args.type.upper()
    if name not in zmq.SocketType.__members__:
        raise UsageError(f"--type: unknown socket type {args.type!r}")
    if not args.bind and not args.connect:
        raise UsageError("give at least one --bind or --connect endpoint")
    names = _event_names()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SocketType[name])
    sock.linger = 0
    mon = sock.get_monitor_socket()
    try:
        for ep in args.bind:
            sock.bind(ep)
        for ep in args.connect:
            sock.connect(ep)
        start = time.monotonic()
        seen = 0
        while not args.count or seen < args.count:
            wait = -1
            if args.timeout:
                wait = int(args.timeout - (time.monotonic() - start) * 1000)
                if wait <= 0:
                    break
            if not mon.poll(wait if wait >= 0 else 1000):
                continue
            event = recv_monitor_message(mon)
            seen += 1
            label = names.get(event["event"], str(event["event"]))
            stamp = time.monotonic() - start
            endpoint = event["endpoint"].decode(errors="replace")
            print(f"{stamp:9.3f}s  {label:<28} value={event['value']:<6} {endpoint}", flush=True)
        return 0
    finally:
        sock.disable_monitor()
        mon.close(0)
        sock.close(0)
        ctx.term()


def _register() -> None:
    from purezmq.__main__ import SUBCOMMANDS, add_subcommand

    if "monitor" not in SUBCOMMANDS:
        add_subcommand("monitor", setup, run, help=HELP)


_register()
