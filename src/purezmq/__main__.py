"""The ``purezmq`` command line (also ``python -m purezmq``).

Subcommands::

    purezmq demo      hello world, divide and conquer and PUB/SUB, over TCP between processes
    purezmq version   purezmq's version and the libzmq / ZMTP versions it follows
    purezmq cat       the netcat of ZeroMQ: send stdin lines, print received messages
    purezmq keygen    a new CURVE key pair in Z85 (needs ``pip install purezmq[curve]``)

Exit codes: 0 success, 1 runtime error or timeout, 2 usage error (the message names the bad
argument).  ``main(argv)`` returns the code instead of exiting, so it can be called from tests.

Adding a subcommand
-------------------
Subcommands live in the ``SUBCOMMANDS`` registry.  Register one with::

    from purezmq.__main__ import CliError, UsageError, add_subcommand

    def setup(parser: argparse.ArgumentParser) -> None:   # add the arguments
        parser.add_argument("--frontend", required=True, metavar="EP")

    def run(args: argparse.Namespace) -> int:              # do the work, return the exit code
        ...
        return 0

    add_subcommand("proxy", setup, run, help="forward messages between two sockets")

``run`` may raise ``UsageError(message)`` (exit 2) or ``CliError(message)`` (exit 1); the
message is printed as ``purezmq <name>: error: <message>``.  A ``ZMQError`` escaping ``run``
also exits 1 with its message, and Ctrl-C exits 130.

So that ``purezmq --help`` lists a subcommand defined in another module (``proxy``, ``perf``,
``monitor``, ...), append that module's dotted name to ``EXTENSION_MODULES`` below: the parser
imports each listed module, which registers its subcommands at import time with
``add_subcommand``.  A listed module that does not exist yet is skipped.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import purezmq as zmq

if __name__ == "__main__":  # one registry, whether run as a script or imported by extensions
    sys.modules.setdefault("purezmq.__main__", sys.modules[__name__])

PROG = "purezmq"

#: Modules imported when the parser is built; each registers subcommands with add_subcommand.
EXTENSION_MODULES: list[str] = [
    "purezmq.perf", "purezmq.devices.cli", "purezmq.cli_monitor", "purezmq.cli_run",
]


# -- registry -------------------------------------------------------------------------------


class CliError(Exception):
    """A runtime failure reported as ``purezmq <cmd>: error: <message>`` with ``exit_code``."""

    exit_code = 1


class UsageError(CliError):
    """A bad command line: exit code 2."""

    exit_code = 2


SetupFn = Callable[[argparse.ArgumentParser], None]
RunFn = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Subcommand:
    name: str
    setup: SetupFn
    run: RunFn
    help: str = ""
    description: str | None = None


#: name -> Subcommand, in the order ``--help`` lists them.
SUBCOMMANDS: dict[str, Subcommand] = {}


def add_subcommand(
    name: str,
    setup_fn: SetupFn,
    run_fn: RunFn,
    help: str = "",
    *,
    description: str | None = None,
    replace: bool = False,
) -> Subcommand:
    """Register ``purezmq NAME``: ``setup_fn(parser)`` adds arguments, ``run_fn(args)`` runs.

    ``run_fn`` returns the exit code (``None`` counts as 0).

    Registering a name twice is an error unless ``replace=True``.
    """
    if name in SUBCOMMANDS and not replace:
        raise ValueError(f"subcommand {name!r} is already registered")
    cmd = Subcommand(name, setup_fn, run_fn, help, description)
    SUBCOMMANDS[name] = cmd
    return cmd


def _load_extensions() -> None:
    for modname in EXTENSION_MODULES:
        try:
            importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name != modname:  # the module exists but one of its imports is missing
                raise


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser for every registered subcommand."""
    _load_extensions()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="purezmq: ZeroMQ in pure Python (pyzmq's API, libzmq's ZMTP wire protocol).",
    )
    parser.add_argument("-V", "--version", action="version",
                        version=f"{PROG} {zmq.purezmq_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in SUBCOMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description or cmd.help)
        cmd.setup(p)
        p.set_defaults(_subcommand=cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 runtime error, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    cmd: Subcommand | None = getattr(args, "_subcommand", None)
    if cmd is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(cmd.run(args) or 0)
    except CliError as exc:
        _error(cmd.name, str(exc))
        return exc.exit_code
    except zmq.ZMQError as exc:
        _error(cmd.name, f"{exc} (errno {exc.errno})")
        return 1
    except KeyboardInterrupt:
        _error(cmd.name, "interrupted")
        return 130
    except BrokenPipeError:  # stdout closed early, e.g. piped into head
        try:
            sys.stdout = open(os.devnull, "w")  # silence the exit-time flush
        except OSError:
            pass
        return 1


def _error(command: str, message: str) -> None:
    print(f"{PROG} {command}: error: {message}", file=sys.stderr, flush=True)


def _out(text: str = "") -> None:
    print(text, flush=True)


# -- version --------------------------------------------------------------------------------


def _setup_version(parser: argparse.ArgumentParser) -> None:
    pass


def _run_version(args: argparse.Namespace) -> int:
    _out(f"purezmq {zmq.purezmq_version()}")
    _out(f"libzmq {zmq.zmq_version()} (the behaviour purezmq follows; no libzmq is loaded)")
    _out("ZMTP 3.1 wire protocol (talks to ZMTP 3.0/3.1 peers: libzmq, pyzmq, JeroMQ, NetMQ)")
    _out(f"pyzmq API {zmq.pyzmq_version()} (what zmq.__version__ reports)")
    _out(f"Python {platform.python_version()} ({platform.python_implementation()})")
    if zmq.has("curve"):
        try:
            import nacl

            detail = f"PyNaCl {nacl.__version__}"
        except Exception:  # pragma: no cover
            detail = "PyNaCl"
        _out(f"CURVE security: available ({detail})")
    else:
        _out("CURVE security: unavailable (pip install purezmq[curve])")
    return 0


# -- keygen ---------------------------------------------------------------------------------


def _setup_keygen(parser: argparse.ArgumentParser) -> None:
    pass


def _run_keygen(args: argparse.Namespace) -> int:
    try:
        public, secret = zmq.curve_keypair()
    except ImportError:
        raise CliError("CURVE keys need PyNaCl, which is not installed; "
                       "install it with: pip install purezmq[curve]")
    _out(f"public: {public.decode('ascii')}")
    _out(f"secret: {secret.decode('ascii')}")
    return 0


# -- cat ------------------------------------------------------------------------------------

_CAT_TYPES = ("PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH",
              "XPUB", "XSUB")
_SEND_ONLY = {"PUB", "PUSH"}
_RECV_ONLY = {"SUB", "PULL"}
_RESPONDERS = {"REP", "ROUTER"}  # with --send and --recv: receive first, then answer


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _timeout_ms(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer (milliseconds): {text!r}")
    if value < -1:
        raise argparse.ArgumentTypeError(f"must be >= 0 (or -1 for no timeout), got {value}")
    return value


def _setup_cat(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Without --send/--recv the mode follows the type: PUSH/PUB send, PULL/SUB receive, "
        "other types do both in lockstep (REQ/DEALER/PAIR/...: send then receive; REP/ROUTER: "
        "receive then reply; a REP with nothing left to send echoes the request). "
        "Exit codes: 0 ok, 1 runtime error or timeout, 2 usage error."
    )
    parser.add_argument("-t", "--type", required=True, metavar="TYPE",
                        help=f"socket type, one of {', '.join(_CAT_TYPES)} (any case)")
    parser.add_argument("-b", "--bind", action="append", default=[], metavar="EP",
                        help="bind to endpoint EP (repeatable), e.g. tcp://127.0.0.1:*")
    parser.add_argument("-c", "--connect", action="append", default=[], metavar="EP",
                        help="connect to endpoint EP (repeatable)")
    parser.add_argument("--send", action="store_true",
                        help="send each --message, or else each line of stdin")
    parser.add_argument("--recv", action="store_true", help="print each received message")
    parser.add_argument("-m", "--message", action="append", metavar="TEXT",
                        help="message to send instead of stdin (repeatable)")
    parser.add_argument("-n", "--count", type=_nonneg_int, metavar="N",
                        help="stop after N messages (or N exchanges); with --message, the "
                             "messages are repeated until N are sent")
    parser.add_argument("--timeout", type=_timeout_ms, default=-1, metavar="MS",
                        help="fail (exit 1) when a send or receive takes longer than MS ms; "
                             "also bounds the linger at exit (default: wait forever)")
    parser.add_argument("-s", "--subscribe", action="append", metavar="TOPIC",
                        help="SUB topic prefix (repeatable; default: everything)")
    parser.add_argument("-d", "--delimiter", metavar="SEP",
                        help="split each outgoing message into frames at SEP")
    parser.add_argument("--delay", type=_nonneg_int, default=0, metavar="MS",
                        help="wait MS ms after bind/connect before sending (slow joiners)")
    parser.add_argument("--routing-id", metavar="ID", help="set the socket's ROUTING_ID")


def _format_message(frames: list[bytes]) -> str:
    parts = []
    for frame in frames:
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text and text.isprintable():
            parts.append(text)
        else:
            parts.append(repr(frame))
    return " ".join(parts)


def _stdin_lines(stream: BinaryIO) -> Iterator[bytes]:
    for line in stream:
        if line.endswith(b"\n"):
            line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
        yield line


def _cat_source(args: argparse.Namespace) -> Iterator[bytes]:
    if args.message:
        messages = [m.encode("utf-8") for m in args.message]
        if args.count is None:
            yield from messages
        else:
            while True:
                yield from messages
    else:
        yield from _stdin_lines(sys.stdin.buffer)


def _frames(payload: bytes, delimiter: bytes | None) -> list[bytes]:
    return payload.split(delimiter) if delimiter else [payload]


def _run_cat(args: argparse.Namespace) -> int:
    name = args.type.strip().upper()
    if name not in _CAT_TYPES:
        raise UsageError(f"--type: unknown socket type {args.type!r} "
                         f"(choose from {', '.join(_CAT_TYPES)})")
    if not args.bind and not args.connect:
        raise UsageError("give at least one --bind EP or --connect EP")
    send, recv = args.send, args.recv
    if not send and not recv:
        send, recv = name not in _RECV_ONLY, name not in _SEND_ONLY
    if send and name in _RECV_ONLY:
        raise UsageError(f"--send: a {name} socket cannot send")
    if recv and name in _SEND_ONLY:
        raise UsageError(f"--recv: a {name} socket cannot receive")
    if args.message and not send:
        raise UsageError("--message: only used with --send")
    if args.subscribe and name != "SUB":
        raise UsageError(f"--subscribe: only SUB sockets subscribe, not {name}")
    delimiter = args.delimiter.encode("utf-8") if args.delimiter else None

    ctx = zmq.Context()
    sock = ctx.socket(getattr(zmq, name))
    linger = args.timeout if args.timeout >= 0 else -1
    try:
        sock.rcvtimeo = args.timeout
        sock.sndtimeo = args.timeout
        if args.routing_id is not None:
            sock.routing_id = args.routing_id.encode("utf-8")
        if name == "SUB":
            for topic in args.subscribe or [""]:
                sock.subscribe(topic.encode("utf-8"))
        for option, endpoints in (("--bind", args.bind), ("--connect", args.connect)):
            for ep in endpoints:
                try:
                    (sock.bind if option == "--bind" else sock.connect)(ep)
                except zmq.ZMQError as exc:
                    usage = exc.errno in (zmq.EINVAL, zmq.EPROTONOSUPPORT)
                    cls = UsageError if usage else CliError
                    raise cls(f"{option} {ep}: {exc}")
                if option == "--bind" and (ep.endswith(":*") or ep.endswith(":0")
                                           or ep.endswith("://*")):
                    print(f"{PROG} cat: bound to {sock.last_endpoint.decode()}",
                          file=sys.stderr, flush=True)
        if args.delay:
            time.sleep(args.delay / 1000)
        return _cat_loop(sock, name, send, recv, args, delimiter)
    except KeyboardInterrupt:
        linger = 0
        raise
    finally:
        sock.close(linger=linger)
        ctx.term()


def _cat_loop(sock: zmq.Socket, name: str, send: bool, recv: bool,
              args: argparse.Namespace, delimiter: bytes | None) -> int:
    count = args.count
    timeout = args.timeout
    received = 0

    def do_recv() -> list[bytes]:
        nonlocal received
        try:
            frames = sock.recv_multipart()
        except zmq.Again:
            expected = f" of {count}" if count is not None else ""
            raise CliError(f"timed out after {timeout} ms waiting for a message "
                           f"(received {received}{expected})")
        received += 1
        _out(_format_message(frames))
        return frames

    def do_send(frames: list[bytes]) -> None:
        try:
            sock.send_multipart(frames)
        except zmq.Again:
            raise CliError(f"timed out after {timeout} ms sending a message (no peer ready?)")

    if recv and not send:
        while count is None or received < count:
            do_recv()
        return 0

    source = _cat_source(args)
    done = 0
    while count is None or done < count:
        if send and recv and name in _RESPONDERS:
            request = do_recv()
            payload = next(source, None)
            if name == "ROUTER":
                reply = [request[0], *(_frames(payload, delimiter) if payload is not None
                                       else request[1:])]
            else:
                reply = _frames(payload, delimiter) if payload is not None else request
            do_send(reply)
        else:
            payload = next(source, None)
            if payload is None:
                break
            do_send(_frames(payload, delimiter))
            if recv:
                do_recv()
        done += 1
    return 0


# -- demo -----------------------------------------------------------------------------------

_HOST = "tcp://127.0.0.1"


def _setup_demo(parser: argparse.ArgumentParser) -> None:
    methods = multiprocessing.get_all_start_methods()
    parser.add_argument("--requests", type=_nonneg_int, default=10, metavar="N",
                        help="hello world requests (default 10)")
    parser.add_argument("--tasks", type=_nonneg_int, default=30, metavar="N",
                        help="divide and conquer tasks (default 30)")
    parser.add_argument("--workers", type=_nonneg_int, default=3, metavar="N",
                        help="divide and conquer worker processes (default 3)")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                        help="fail when any single step waits longer (default 5)")
    parser.add_argument("--start-method", choices=methods, default=_default_start_method(),
                        help="multiprocessing start method (default %(default)s)")


def _default_start_method() -> str:
    return "fork" if sys.platform.startswith("linux") else "spawn"


class DemoFailed(CliError):
    pass


def _child_main(target: Callable[..., Any], conn: Any, *args: Any) -> None:
    """Run ``target(conn, *args)`` in a child process; report any exception to the parent."""
    try:
        target(conn, *args)
    except BaseException as exc:  # everything goes back to the parent
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        except Exception:
            pass
    finally:
        conn.close()


def _wait_report(conn: Any, proc: Any, timeout: float, what: str) -> Any:
    """The next ``(kind, value)`` a child sends; fail on its error, death or silence."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if conn.poll(max(0.0, min(left, 0.05))):
            try:
                kind, value = conn.recv()
            except EOFError:
                raise DemoFailed(f"{what}: the process exited (code {proc.exitcode})")
            if kind == "error":
                raise DemoFailed(f"{what}: {value}")
            return value
        if not proc.is_alive() and not conn.poll(0):
            proc.join(0.1)
            raise DemoFailed(f"{what}: the process exited (code {proc.exitcode})")
        if left <= 0:
            raise DemoFailed(f"{what}: no answer within {timeout:g} s")


class _Children:
    """Child processes of one demo step, each with a private Pipe; reaped on exit."""

    def __init__(self, method: str) -> None:
        self.mp = multiprocessing.get_context(method)
        self.procs: list[tuple[Any, Any, str]] = []

    def start(self, name: str, target: Callable[..., Any], *args: Any) -> int:
        parent_end, child_end = self.mp.Pipe()
        proc = self.mp.Process(target=_child_main, args=(target, child_end, *args),
                               name=name, daemon=True)
        proc.start()
        child_end.close()
        self.procs.append((proc, parent_end, name))
        return len(self.procs) - 1

    def send(self, index: int, value: Any) -> None:
        self.procs[index][1].send(value)

    def report(self, index: int, timeout: float) -> Any:
        proc, conn, name = self.procs[index]
        return _wait_report(conn, proc, timeout, name)

    def __enter__(self) -> _Children:
        return self

    def __exit__(self, *exc: Any) -> None:
        for proc, conn, _ in self.procs:
            proc.join(timeout=2.0 if exc[0] is None else 0.2)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=2.0)
            conn.close()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


# (a) hello world -----------------------------------------------------------------------------

def _hello_server(conn: Any, requests: int, timeout_ms: int) -> None:
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.REP)
        sock.rcvtimeo = timeout_ms
        port = sock.bind_to_random_port(_HOST)
        conn.send(("ready", f"{_HOST}:{port}"))
        for _ in range(requests):
            message = sock.recv()
            if message != b"Hello":
                raise ValueError(f"unexpected request {message!r}")
            sock.send(b"World")
        conn.send(("done", requests))
    finally:
        ctx.destroy(linger=timeout_ms)


def _demo_hello(args: argparse.Namespace) -> str:
    timeout_ms = int(args.timeout * 1000)
    with _Children(args.start_method) as kids:
        server = kids.start("hello server", _hello_server, args.requests, timeout_ms)
        endpoint = kids.report(server, args.timeout)
        _out(f"      REP server (pid {kids.procs[server][0].pid}) bound {endpoint}")
        ctx = zmq.Context()
        try:
            sock = ctx.socket(zmq.REQ)
            sock.rcvtimeo = sock.sndtimeo = timeout_ms
            sock.connect(endpoint)
            rtts = []
            for n in range(args.requests):
                t0 = time.perf_counter()
                sock.send(b"Hello")
                try:
                    reply = sock.recv()
                except zmq.Again:
                    raise DemoFailed(f"hello world: no reply to request {n} "
                                     f"within {args.timeout:g} s")
                rtts.append(time.perf_counter() - t0)
                if reply != b"World":
                    raise DemoFailed(f"hello world: reply {n} was {reply!r}, not b'World'")
        finally:
            ctx.destroy(linger=0)
        served = kids.report(server, args.timeout)
    if rtts:
        avg = sum(rtts) / len(rtts) * 1000
        return (f"REQ client sent {args.requests} x 'Hello', got {served} x 'World' "
                f"(round trip avg {avg:.2f} ms)")
    return "no requests sent (--requests 0)"


# (b) divide and conquer -----------------------------------------------------------------------

def _demo_worker(conn: Any, name: str, timeout_ms: int) -> None:
    if not conn.poll(timeout_ms / 1000):
        raise TimeoutError("no endpoints from the ventilator")
    vent_ep, sink_ep, control_ep = conn.recv()
    ctx = zmq.Context()
    try:
        receiver = ctx.socket(zmq.PULL)
        receiver.connect(vent_ep)
        sender = ctx.socket(zmq.PUSH)
        sender.sndtimeo = timeout_ms
        sender.connect(sink_ep)
        control = ctx.socket(zmq.SUB)
        control.subscribe(b"")
        control.rcvtimeo = timeout_ms
        control.connect(control_ep)
        control.recv()  # the first SYNC: the control channel is up
        sender.send_multipart([b"READY", name.encode()])
        poller = zmq.Poller()
        poller.register(receiver, zmq.POLLIN)
        poller.register(control, zmq.POLLIN)
        done = 0
        while True:
            events = dict(poller.poll(timeout_ms))
            if not events:
                raise TimeoutError(f"no task and no KILL within {timeout_ms} ms")
            if receiver in events:
                task_id, workload = receiver.recv_multipart()
                time.sleep(int(workload) / 1000)  # the "work"
                sender.send_multipart([b"RESULT", name.encode(), task_id])
                done += 1
            if control in events and control.recv() == b"KILL":
                break
        conn.send(("done", done))
    finally:
        ctx.destroy(linger=timeout_ms)


def _demo_divide(args: argparse.Namespace) -> str:
    timeout_ms = int(args.timeout * 1000)
    names = [f"worker-{i + 1}" for i in range(args.workers)]
    with _Children(args.start_method) as kids:
        for name in names:  # start the processes before this process opens a context
            kids.start(name, _demo_worker, name, timeout_ms)
        ctx = zmq.Context()
        try:
            vent = ctx.socket(zmq.PUSH)
            vent.sndtimeo = timeout_ms
            vent_ep = f"{_HOST}:{vent.bind_to_random_port(_HOST)}"
            sink = ctx.socket(zmq.PULL)
            sink.rcvtimeo = timeout_ms
            sink_ep = f"{_HOST}:{sink.bind_to_random_port(_HOST)}"
            control = ctx.socket(zmq.PUB)
            control_ep = f"{_HOST}:{control.bind_to_random_port(_HOST)}"
            _out(f"      ventilator PUSH {vent_ep}, sink PULL {sink_ep}, "
                 f"control PUB {control_ep}")
            for i in range(len(names)):
                kids.send(i, (vent_ep, sink_ep, control_ep))

            # Slow joiners: publish SYNC until every worker says READY through the sink.
            ready: set[str] = set()
            deadline = time.monotonic() + args.timeout
            while len(ready) < len(names):
                if time.monotonic() > deadline:
                    missing = ", ".join(sorted(set(names) - ready))
                    raise DemoFailed(f"divide and conquer: {missing} never became ready")
                control.send(b"SYNC")
                while sink.poll(20):
                    kind, who = sink.recv_multipart()
                    if kind == b"READY":
                        ready.add(who.decode())
            time.sleep(0.05)  # the PULL connections were made first; give them a moment
            _out(f"      {len(names)} worker processes ready")

            rng = random.Random(2014)
            workloads = [rng.randint(1, 10) for _ in range(args.tasks)]
            t0 = time.perf_counter()
            for task_id, workload in enumerate(workloads):
                vent.send_multipart([str(task_id).encode(), str(workload).encode()])
            per_worker = dict.fromkeys(names, 0)
            seen: set[int] = set()
            while len(seen) < args.tasks:
                try:
                    kind, who, task_id = sink.recv_multipart()
                except zmq.Again:
                    raise DemoFailed(f"divide and conquer: sink got {len(seen)} of "
                                     f"{args.tasks} results, then nothing for {args.timeout:g} s")
                if kind != b"RESULT":
                    continue
                seen.add(int(task_id))
                per_worker[who.decode()] += 1
            elapsed = time.perf_counter() - t0
            control.send(b"KILL")
            counts = [kids.report(i, args.timeout) for i in range(len(names))]
        finally:
            ctx.destroy(linger=0)
    if sum(counts) != args.tasks:
        raise DemoFailed(f"divide and conquer: workers report {sum(counts)} tasks done, "
                         f"expected {args.tasks}")
    total = sum(workloads) / 1000
    spread = ", ".join(f"{name}: {n}" for name, n in per_worker.items())
    speedup = f" ({total / elapsed:.1f}x)" if elapsed > 0 and total > 0 else ""
    return (f"sink collected {args.tasks} results ({spread}); "
            f"{_ms(total)} of work done in {_ms(elapsed)}{speedup}")


# (c) PUB/SUB --------------------------------------------------------------------------------

_TOPICS = (b"weather", b"sports", b"news")
_UPDATES = 5


def _demo_subscriber(conn: Any, name: str, topics: list[bytes], timeout_ms: int) -> None:
    if not conn.poll(timeout_ms / 1000):
        raise TimeoutError("no endpoints from the publisher")
    pub_ep, sync_ep = conn.recv()
    ctx = zmq.Context()
    try:
        sub = ctx.socket(zmq.SUB)
        sub.rcvtimeo = timeout_ms
        sub.connect(pub_ep)
        for topic in (b"sync", *topics):
            sub.subscribe(topic)
        received: dict[str, int] = {}
        synced = False
        while True:
            topic, body = sub.recv_multipart()
            if topic == b"sync":
                if body == b"end":
                    break
                if not synced:  # the first sync message: our subscriptions are in place
                    synced = True
                    req = ctx.socket(zmq.REQ)
                    req.rcvtimeo = req.sndtimeo = timeout_ms
                    req.connect(sync_ep)
                    req.send(name.encode())
                    req.recv()
                    req.close()
                continue
            key = topic.decode()
            received[key] = received.get(key, 0) + 1
        conn.send(("done", received))
    finally:
        ctx.destroy(linger=0)


def _demo_pubsub(args: argparse.Namespace) -> str:
    timeout_ms = int(args.timeout * 1000)
    subscribers = {"subscriber A": [b"weather"], "subscriber B": [b"sports", b"news"]}
    with _Children(args.start_method) as kids:
        for name, topics in subscribers.items():
            kids.start(name, _demo_subscriber, name, topics, timeout_ms)
        ctx = zmq.Context()
        try:
            pub = ctx.socket(zmq.PUB)
            pub_ep = f"{_HOST}:{pub.bind_to_random_port(_HOST)}"
            sync = ctx.socket(zmq.REP)
            sync.sndtimeo = timeout_ms
            sync_ep = f"{_HOST}:{sync.bind_to_random_port(_HOST)}"
            _out(f"      PUB {pub_ep}, sync REP {sync_ep}")
            for i in range(len(subscribers)):
                kids.send(i, (pub_ep, sync_ep))
            # Slow joiners: publish on the "sync" topic until every subscriber checks in.
            ready: set[str] = set()
            deadline = time.monotonic() + args.timeout
            while len(ready) < len(subscribers):
                if time.monotonic() > deadline:
                    missing = ", ".join(sorted(set(subscribers) - ready))
                    raise DemoFailed(f"pub/sub: {missing} never synchronized")
                pub.send_multipart([b"sync", b"hello"])
                while sync.poll(20):
                    ready.add(sync.recv().decode())
                    sync.send(b"go")
            t0 = time.perf_counter()
            for n in range(_UPDATES):
                for topic in _TOPICS:
                    pub.send_multipart([topic, f"{topic.decode()} update {n}".encode()])
            pub.send_multipart([b"sync", b"end"])
            results = {name: kids.report(i, args.timeout)
                       for i, name in enumerate(subscribers)}
            elapsed = time.perf_counter() - t0
        finally:
            ctx.destroy(linger=0)
    lines = []
    for name, topics in subscribers.items():
        expected = {t.decode(): _UPDATES for t in topics}
        if results[name] != expected:
            raise DemoFailed(f"pub/sub: {name} subscribed to "
                             f"{[t.decode() for t in topics]} but received {results[name]}")
        wanted = " + ".join(repr(t.decode()) for t in topics)
        lines.append(f"{name} ({wanted}) got {sum(expected.values())}")
    total = len(_TOPICS) * _UPDATES
    return (f"published {total} updates on {len(_TOPICS)} topics; "
            f"{'; '.join(lines)}; other topics filtered out (delivered in {_ms(elapsed)})")


def _run_demo(args: argparse.Namespace) -> int:
    steps = [
        ("Hello world: REQ client <-> REP server in another process", _demo_hello),
        (f"Divide and conquer: ventilator -> {args.workers} worker processes -> sink",
         _demo_divide),
        ("PUB/SUB with topic filtering: 1 publisher, 2 subscriber processes", _demo_pubsub),
    ]
    if args.workers < 1:
        raise UsageError("--workers: need at least 1 worker")
    _out(f"purezmq {zmq.purezmq_version()} demo: ZeroMQ patterns over TCP on 127.0.0.1 "
         f"(processes started with {args.start_method!r})")
    t_all = time.perf_counter()
    for i, (title, step) in enumerate(steps, 1):
        _out(f"[{i}/{len(steps)}] {title}")
        t0 = time.perf_counter()
        try:
            summary = step(args)
        except CliError as exc:
            _out(f"      FAILED after {_ms(time.perf_counter() - t0)}: {exc}")
            raise DemoFailed(f"step {i} failed: {exc}")
        _out(f"      {summary}")
        _out(f"      ok in {_ms(time.perf_counter() - t0)}")
    _out(f"All {len(steps)} demos passed in {_ms(time.perf_counter() - t_all)}.")
    return 0


# -- registration ---------------------------------------------------------------------------

add_subcommand("demo", _setup_demo, _run_demo,
               help="run hello world, divide and conquer and PUB/SUB between processes")
add_subcommand("version", _setup_version, _run_version,
               help="print purezmq's version and the libzmq/ZMTP versions it follows")
add_subcommand("cat", _setup_cat, _run_cat,
               help="netcat for ZeroMQ: send stdin lines / print received messages")
add_subcommand("keygen", _setup_keygen, _run_keygen,
               help="print a new CURVE key pair (Z85)")


if __name__ == "__main__":
    # Under ``python -m purezmq`` this module is ``__main__``, which a 'spawn' child does not
    # re-import; name the demo's process targets by the module's importable name instead.
    for _target in (_child_main, _hello_server, _demo_worker, _demo_subscriber):
        _target.__module__ = "purezmq.__main__"
    sys.exit(main())
