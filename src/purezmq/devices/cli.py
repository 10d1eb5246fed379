"""``purezmq proxy``: run a QUEUE, FORWARDER or STREAMER device from the command line.

::

    purezmq proxy --type queue --frontend tcp://*:5559 --backend tcp://*:5560
    purezmq proxy --type forwarder --frontend tcp://127.0.0.1:* --backend tcp://127.0.0.1:* \\
        --capture tcp://127.0.0.1:5570

Both sides bind by default; ``--frontend-connect`` / ``--backend-connect`` (and
``--capture-connect``) make that side connect instead.  Each bound endpoint is reported on
stderr as ``purezmq proxy: frontend ROUTER bound to tcp://127.0.0.1:40123`` (useful with
``:*``).  SIGINT or SIGTERM stops the proxy cleanly: it finishes the message in hand, prints
its statistics, closes the sockets (lingering up to ``--linger`` ms) and exits 0.
"""

from __future__ import annotations

import argparse
import signal
import struct
import sys
import threading

import purezmq as zmq
from purezmq.devices.proxy import proxy_steerable

__all__ = ["DEVICE_TYPES", "add_proxy_subcommand", "run_proxy", "setup_proxy_parser"]

#: device type -> (frontend type, backend type), as the zguide builds each device.
DEVICE_TYPES: dict[str, tuple[int, int]] = {
    "queue": (zmq.ROUTER, zmq.DEALER),
    "forwarder": (zmq.XSUB, zmq.XPUB),
    "streamer": (zmq.PULL, zmq.PUSH),
}

HELP = "run a QUEUE, FORWARDER or STREAMER proxy between two endpoints"

_TYPE_NAMES = {zmq.ROUTER: "ROUTER", zmq.DEALER: "DEALER", zmq.XSUB: "XSUB",
               zmq.XPUB: "XPUB", zmq.PULL: "PULL", zmq.PUSH: "PUSH", zmq.PUB: "PUB"}


def setup_proxy_parser(parser: argparse.ArgumentParser) -> None:
    """Add ``purezmq proxy``'s arguments to ``parser``."""
    parser.epilog = (
        "queue: ROUTER frontend (REQ/DEALER clients) -> DEALER backend (REP/ROUTER workers); "
        "forwarder: XSUB frontend (publishers) -> XPUB backend (subscribers); "
        "streamer: PULL frontend (pushers) -> PUSH backend (pullers). "
        "Stop with Ctrl-C or SIGTERM. Exit codes: 0 ok, 1 runtime error, 2 usage error."
    )
    parser.add_argument("-t", "--type", required=True, type=str.lower,
                        choices=sorted(DEVICE_TYPES), help="the kind of device")
    parser.add_argument("-f", "--frontend", required=True, metavar="EP",
                        help="frontend endpoint (bound unless --frontend-connect)")
    parser.add_argument("-b", "--backend", required=True, metavar="EP",
                        help="backend endpoint (bound unless --backend-connect)")
    parser.add_argument("-c", "--capture", metavar="EP",
                        help="also publish a copy of every message on a PUB socket at EP")
    parser.add_argument("--frontend-connect", action="store_true",
                        help="connect the frontend to EP instead of binding")
    parser.add_argument("--backend-connect", action="store_true",
                        help="connect the backend to EP instead of binding")
    parser.add_argument("--capture-connect", action="store_true",
                        help="connect the capture socket instead of binding")
    parser.add_argument("--hwm", type=int, metavar="N",
                        help="SNDHWM and RCVHWM of the frontend and backend (default 1000)")
    parser.add_argument("--linger", type=int, default=1000, metavar="MS",
                        help="how long to keep delivering queued messages at exit "
                             "(default 1000, -1 forever)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="do not report endpoints and statistics on stderr")


def add_proxy_subcommand(subparsers) -> argparse.ArgumentParser:
    """Add ``proxy`` to an argparse ``subparsers`` object; ``args.func`` is :func:`run_proxy`."""
    parser = subparsers.add_parser("proxy", help=HELP, description=HELP)
    setup_proxy_parser(parser)
    parser.set_defaults(func=run_proxy)
    return parser


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"purezmq proxy: {text}", file=sys.stderr, flush=True)


def _open(ctx, kind: int, role: str, endpoint: str, connect: bool, args) -> zmq.Socket:
    sock = ctx.socket(kind)
    if args.hwm is not None and kind != zmq.PUB:
        sock.sndhwm = args.hwm
        sock.rcvhwm = args.hwm
    try:
        if connect:
            sock.connect(endpoint)
            _say(args, f"{role} {_TYPE_NAMES[kind]} connected to {endpoint}")
        else:
            sock.bind(endpoint)
            _say(args, f"{role} {_TYPE_NAMES[kind]} bound to {sock.last_endpoint.decode()}")
    except zmq.ZMQError as e:
        sock.close(0)
        raise _usage_or_runtime(f"--{role} {endpoint}: {e}", e) from None
    return sock


def _usage_or_runtime(message: str, e: zmq.ZMQError) -> Exception:
    try:
        from purezmq.__main__ import CliError, UsageError
    except ImportError:  # pragma: no cover - the registry is optional
        return e
    if e.errno in (zmq.EINVAL, zmq.EPROTONOSUPPORT):
        return UsageError(message)
    return CliError(message)


def run_proxy(args: argparse.Namespace) -> int:
    """Run the proxy until SIGINT / SIGTERM; returns the exit code."""
    front_type, back_type = DEVICE_TYPES[args.type]
    ctx = zmq.Context()
    sockets: list = []  # frontend, backend, capture: closed with --linger
    internal: list = []  # the stop channel: closed at once
    stop_name = f"inproc://purezmq-proxy-stop-{id(ctx)}"
    linger = args.linger
    try:
        frontend = _open(ctx, front_type, "frontend", args.frontend, args.frontend_connect, args)
        sockets.append(frontend)
        backend = _open(ctx, back_type, "backend", args.backend, args.backend_connect, args)
        sockets.append(backend)
        capture = None
        if args.capture:
            capture = _open(ctx, zmq.PUB, "capture", args.capture, args.capture_connect, args)
            sockets.append(capture)
        control = ctx.socket(zmq.PAIR)
        internal.append(control)
        control.bind(stop_name)
        stopper = ctx.socket(zmq.PAIR)
        internal.append(stopper)
        stopper.connect(stop_name)

        stopping = threading.Event()

        def on_signal(signum, frame) -> None:
            # Runs in the main thread between bytecodes of the proxy loop; it only touches
            # ``stopper``, whose pipe wakes the proxy as another thread's write would.
            if not stopping.is_set():
                stopping.set()
                stopper.send_multipart([b"STATISTICS"])
                stopper.send_multipart([b"TERMINATE"])

        handlers = _install(on_signal)
        try:
            _say(args, f"{args.type} running (Ctrl-C or SIGTERM to stop)")
            proxy_steerable(frontend, backend, capture, control)
        finally:
            _restore(handlers)
        stats = stopper.recv_multipart(zmq.DONTWAIT) if stopper.poll(0) else None
        if stats and len(stats) == 8:
            fin, fib, fon, fob, bin_, bib, bon, bob = (struct.unpack("=Q", s)[0] for s in stats)
            _say(args, f"stopped: frontend received {fin} frames ({fib} bytes), "
                       f"backend received {bin_} frames ({bib} bytes)")
        return 0
    except KeyboardInterrupt:  # a signal before the handlers were in place
        linger = 0
        return 0
    finally:
        for sock in internal:
            sock.close(linger=0)
        for sock in sockets:
            sock.close(linger=linger)
        ctx.term()


def _install(handler) -> dict:
    old = {}
    if threading.current_thread() is not threading.main_thread():
        return old  # signals are only delivered to the main thread
    for name in ("SIGINT", "SIGTERM"):
        signum = getattr(signal, name, None)
        if signum is not None:
            old[signum] = signal.signal(signum, handler)
    return old


def _restore(old: dict) -> None:
    for signum, handler in old.items():
        signal.signal(signum, handler)


def _register() -> None:
    """Register ``purezmq proxy`` with the command line's registry, if there is one."""
    try:
        from purezmq.__main__ import SUBCOMMANDS, add_subcommand
    except ImportError:  # pragma: no cover
        return
    if "proxy" not in SUBCOMMANDS:
        add_subcommand("proxy", setup_proxy_parser, run_proxy, help=HELP)


_register()
