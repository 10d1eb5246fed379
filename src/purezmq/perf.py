"""``purezmq perf``: throughput and latency tests, like libzmq's perf tools.

    purezmq perf thr --bind tcp://127.0.0.1:5555 --size 64 --count 100000   # receives
    purezmq perf thr --connect tcp://127.0.0.1:5555 --size 64 --count 100000 # sends
    purezmq perf thr --local --size 64 --count 100000       # both, in two processes

    purezmq perf lat --bind tcp://127.0.0.1:5556 --size 1 --count 10000     # echoes
    purezmq perf lat --connect tcp://127.0.0.1:5556 --size 1 --count 10000  # measures
    purezmq perf lat --local

As in libzmq (``local_thr``/``remote_thr``, ``local_lat``/``remote_lat``) the side that binds
is the *local* one: for ``thr`` it is the PULL that receives and reports, for ``lat`` the REP
that echoes.  The connecting side sends (``thr``, PUSH) or measures round trips (``lat``,
REQ).  ``--role`` swaps the roles when the measuring side must connect.  ``--local`` runs both
sides as two processes on this machine (on an ephemeral tcp port, or on ``--bind EP``).

The receiver times from its first message to its last (so connection set-up is not
counted); latency is the mean round trip over ``--count`` REQ/REP exchanges after a short
warm-up, reported whole and halved (libzmq's ``local_lat`` figure).  Every wait is bounded
by ``--timeout``; a progress line is shown on stderr for long runs when it is a terminal.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from dataclasses import dataclass
from typing import Any

import purezmq as zmq

__all__ = ["add_perf_subcommand", "main", "run_perf", "setup_perf"]

_CHUNK = 256  # messages between two looks at the clock
_DEFAULT_ENDPOINT = "tcp://127.0.0.1:*"


class PerfError(Exception):
    """A runtime failure (exit code 1)."""

    exit_code = 1


class PerfUsageError(PerfError):
    """A bad command line (exit code 2)."""

    exit_code = 2


def _cli_errors() -> tuple[type[Exception], type[Exception]]:
    """The CLI's error classes when it is there, so its ``main`` reports ours the same way."""
    try:
        from purezmq.__main__ import CliError, UsageError
    except ImportError:  # pragma: no cover - the CLI module is optional for this one
        return PerfError, PerfUsageError
    return CliError, UsageError


def _fail(message: str) -> Exception:
    return _cli_errors()[0](message)


def _usage(message: str) -> Exception:
    return _cli_errors()[1](message)


# -- arguments ----------------------------------------------------------------------------
def _size(text: str) -> int:
    t = text.strip().lower().replace("ib", "").rstrip("b")
    mult = 1
    if t.endswith("k"):
        mult, t = 1024, t[:-1]
    elif t.endswith("m"):
        mult, t = 1024 * 1024, t[:-1]
    try:
        value = int(t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 64, 1k, 1MiB)") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _add_mode_arguments(p: argparse.ArgumentParser, mode: str) -> None:
    size, count = (64, 100_000) if mode == "thr" else (1, 10_000)
    p.add_argument("--bind", metavar="EP", help="bind to EP (this side receives/echoes)")
    p.add_argument("--connect", metavar="EP", help="connect to EP (this side sends/measures)")
    p.add_argument("--local", action="store_true",
                   help="run both sides here, in two processes (on --bind EP or an "
                        "ephemeral tcp port on 127.0.0.1)")
    p.add_argument("--role", choices=("auto", "measure", "peer"), default="auto",
                   help="auto: the binding side measures for thr, the connecting side for "
                        "lat (as libzmq's tools); measure / peer force it")
    p.add_argument("-s", "--size", type=_size, default=size, metavar="BYTES",
                   help=f"message size (default {size}; suffixes k, M)")
    p.add_argument("-n", "--count", type=_count, default=count, metavar="N",
                   help=f"messages (thr) or round trips (lat) (default {count:,})")
    p.add_argument("--hwm", type=int, default=1000, metavar="N",
                   help="SNDHWM/RCVHWM (default 1000)")
    p.add_argument("--timeout", type=_seconds, default=60.0, metavar="SECONDS",
                   help="fail when any single wait takes longer (default 60)")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show progress on stderr (default: when stderr is a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false")


def setup_perf(parser: argparse.ArgumentParser) -> None:
    """Add ``thr`` and ``lat`` (with their arguments) to the ``perf`` parser."""
    parser.epilog = ("Exit codes: 0 ok, 1 runtime error or timeout, 2 usage error. "
                     "Run 'purezmq perf thr --help' for the options.")
    modes = parser.add_subparsers(dest="perf_mode", metavar="MODE")
    thr = modes.add_parser(
        "thr", help="throughput: PUSH -> PULL, messages/s and MB/s",
        description="Throughput test (libzmq's local_thr / remote_thr): the PULL side "
                    "times COUNT messages of SIZE bytes from the first to the last.")
    _add_mode_arguments(thr, "thr")
    lat = modes.add_parser(
        "lat", help="latency: REQ <-> REP round trips, microseconds",
        description="Latency test (libzmq's local_lat / remote_lat): the REQ side times "
                    "COUNT round trips of SIZE-byte messages to an echoing REP.")
    _add_mode_arguments(lat, "lat")


def add_perf_subcommand(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``perf`` on an ``argparse`` subparsers object; ``run_perf`` runs it."""
    parser = subparsers.add_parser(
        "perf", help="throughput and latency tests (like libzmq's local_thr/remote_lat)",
        description=__doc__.split("\n\n")[0])
    setup_perf(parser)
    parser.set_defaults(func=run_perf)
    return parser


# -- measurements -------------------------------------------------------------------------
@dataclass
class ThrResult:
    size: int
    count: int  # messages received, the first included
    elapsed: float  # first to last message

    @property
    def msgs_per_s(self) -> float:
        return (self.count - 1) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.msgs_per_s * self.size / 1e6

    def lines(self) -> list[str]:
        rate = self.msgs_per_s
        return [
            f"message size: {self.size} B",
            f"message count: {self.count:,}",
            f"elapsed (first to last message): {self.elapsed:.3f} s",
            f"mean throughput: {rate:,.0f} msg/s",
            f"mean throughput: {self.mb_per_s:,.1f} MB/s ({self.mb_per_s * 8:,.1f} Mb/s)",
            f"mean time per message: {1e6 / rate:.3f} us" if rate else "",
        ]


@dataclass
class LatResult:
    size: int
    count: int
    elapsed: float
    p50: float
    p99: float

    @property
    def rtt_us(self) -> float:
        return self.elapsed / self.count * 1e6

    def lines(self) -> list[str]:
        return [
            f"message size: {self.size} B",
            f"round trips: {self.count:,}",
            f"mean round-trip time: {self.rtt_us:.1f} us "
            f"(p50 {self.p50 * 1e6:.1f} us, p99 {self.p99 * 1e6:.1f} us)",
            f"mean latency (one way, rtt/2 as libzmq's local_lat): {self.rtt_us / 2:.1f} us",
            f"round trips per second: {self.count / self.elapsed:,.0f}",
        ]


class _Progress:
    """A one-line progress display on stderr, after the first second."""

    def __init__(self, enabled: bool | None, total: int, what: str) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.enabled = enabled
        self.total = total
        self.what = what
        self.t0 = time.perf_counter()
        self.next = self.t0 + 1.0
        self.shown = False

    def update(self, done: int, now: float) -> None:
        if not self.enabled or now < self.next:
            return
        self.next = now + 0.25
        rate = done / (now - self.t0)
        sys.stderr.write(f"\r  {done:,}/{self.total:,} {self.what} "
                         f"({100 * done // self.total}%), {rate:,.0f}/s   ")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()


def _socket(ctx: Any, kind: int, endpoint: str, bind: bool, hwm: int, timeout: float) -> Any:
    sock = ctx.socket(kind)
    ms = int(timeout * 1000)
    sock.sndhwm = hwm
    sock.rcvhwm = hwm
    sock.rcvtimeo = ms
    sock.sndtimeo = ms
    sock.linger = ms
    try:
        (sock.bind if bind else sock.connect)(endpoint)
    except zmq.ZMQError as e:
        sock.close(0)
        raise _fail(f"{'bind' if bind else 'connect'} {endpoint}: {e}") from None
    return sock


def _bound(sock: Any) -> str:
    return sock.getsockopt(zmq.LAST_ENDPOINT).decode()


def thr_receive(ctx: Any, endpoint: str, bind: bool, size: int, count: int, hwm: int,
                timeout: float, progress: bool | None = None, on_ready=None) -> ThrResult:
    """PULL ``count`` messages; time from the first to the last."""
    sock = _socket(ctx, zmq.PULL, endpoint, bind, hwm, timeout)
    try:
        if on_ready is not None:
            on_ready(_bound(sock) if bind else endpoint)
        recv = sock.recv
        try:
            first = recv()
        except zmq.Again:
            raise _fail(f"no message within {timeout:g} s (is the sender running?)") from None
        t0 = time.perf_counter()
        if len(first) != size:
            raise _fail(f"received a {len(first)}-byte message, expected --size {size}")
        bar = _Progress(progress, count, "messages")
        bar.t0 = t0
        got = 1
        try:
            while got < count:
                n = min(_CHUNK, count - got)
                for _ in range(n):
                    recv()
                got += n
                bar.update(got, time.perf_counter())
        except zmq.Again:
            raise _fail(f"no message for {timeout:g} s after {got:,} of {count:,}") from None
        finally:
            bar.done()
        return ThrResult(size, count, time.perf_counter() - t0)
    finally:
        sock.close(0)


def thr_send(ctx: Any, endpoint: str, bind: bool, size: int, count: int, hwm: int,
             timeout: float, on_ready=None) -> float:
    """PUSH ``count`` messages of ``size`` bytes; return the seconds it took to queue them."""
    sock = _socket(ctx, zmq.PUSH, endpoint, bind, hwm, timeout)
    try:
        if on_ready is not None:
            on_ready(_bound(sock) if bind else endpoint)
        msg = b"\x00" * size
        send = sock.send
        t0 = time.perf_counter()
        sent = 0
        try:
            while sent < count:
                n = min(_CHUNK, count - sent)
                for _ in range(n):
                    send(msg)
                sent += n
        except zmq.Again:
            raise _fail(f"send blocked for {timeout:g} s after {sent:,} messages "
                        "(is the receiver running?)") from None
        return time.perf_counter() - t0
    finally:
        sock.close()  # linger = --timeout: flush what is queued


def lat_echo(ctx: Any, endpoint: str, bind: bool, size: int, count: int, timeout: float,
             on_ready=None) -> int:
    """REP: echo ``count`` requests (plus the client's warm-up); return how many."""
    sock = _socket(ctx, zmq.REP, endpoint, bind, 1000, timeout)
    try:
        if on_ready is not None:
            on_ready(_bound(sock) if bind else endpoint)
        recv, send = sock.recv, sock.send
        n = 0
        total = count + _warmup(count)
        try:
            while n < total:
                send(recv())
                n += 1
        except zmq.Again:
            raise _fail(f"no request for {timeout:g} s after {n:,} of {total:,}") from None
        return n
    finally:
        sock.close()


def _warmup(count: int) -> int:
    return min(1000, count // 10)


def lat_measure(ctx: Any, endpoint: str, bind: bool, size: int, count: int, timeout: float,
                progress: bool | None = None, on_ready=None) -> LatResult:
    """REQ: ``count`` timed round trips of ``size``-byte messages after a warm-up."""
    sock = _socket(ctx, zmq.REQ, endpoint, bind, 1000, timeout)
    try:
        if on_ready is not None:
            on_ready(_bound(sock) if bind else endpoint)
        msg = b"\x00" * size
        send, recv = sock.send, sock.recv
        clock = time.perf_counter
        n = 0
        try:
            for _ in range(_warmup(count)):
                send(msg)
                recv()
            times = []
            bar = _Progress(progress, count, "round trips")
            t0 = clock()
            last = t0
            while n < count:
                for _ in range(min(_CHUNK, count - n)):
                    send(msg)
                    recv()
                    now = clock()
                    times.append(now - last)
                    last = now
                n = len(times)
                bar.update(n, last)
            bar.done()
        except zmq.Again:
            raise _fail(f"no reply for {timeout:g} s after {n:,} round trips "
                        "(is the echo side running?)") from None
        times.sort()
        return LatResult(size, count, last - t0, times[len(times) // 2],
                         times[min(len(times) - 1, int(len(times) * 0.99))])
    finally:
        sock.close(0)


# -- running ----------------------------------------------------------------------------------
def _measures(args: argparse.Namespace, bind: bool) -> bool:
    if args.role != "auto":
        return args.role == "measure"
    return bind if args.perf_mode == "thr" else not bind


def _run_side(mode: str, measure: bool, endpoint: str, bind: bool, args: Any,
              on_ready=None) -> ThrResult | LatResult | str:
    ctx = zmq.Context()
    try:
        if mode == "thr" and measure:
            return thr_receive(ctx, endpoint, bind, args.size, args.count, args.hwm,
                               args.timeout, args.progress, on_ready)
        if mode == "thr":
            secs = thr_send(ctx, endpoint, bind, args.size, args.count, args.hwm,
                            args.timeout, on_ready)
            return f"sent {args.count:,} messages of {args.size} B in {secs:.3f} s"
        if measure:
            return lat_measure(ctx, endpoint, bind, args.size, args.count, args.timeout,
                               args.progress, on_ready)
        n = lat_echo(ctx, endpoint, bind, args.size, args.count, args.timeout, on_ready)
        return f"echoed {n:,} messages of {args.size} B"
    finally:
        if measure:
            ctx.destroy(linger=0)
        else:
            ctx.term()  # after the sockets' linger (--timeout) flushed what was queued


def _child(conn: Any, mode: str, measure: bool, endpoint: str, bind: bool,
           args: argparse.Namespace) -> None:
    try:
        result = _run_side(mode, measure, endpoint, bind, args,
                           on_ready=lambda ep: conn.send(("ready", ep)))
        conn.send(("result", result))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        try:
            conn.send(("error", str(e) or type(e).__name__))
        except Exception:
            pass
    finally:
        conn.close()


def _expect(conn: Any, proc: Any, kind: str, timeout: float | None, who: str) -> Any:
    """The child's next report; its own waits are bounded, so ``None`` waits while it lives."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not conn.poll(0.1):
        if not proc.is_alive() and not conn.poll(0):
            raise _fail(f"the {who} process exited (code {proc.exitcode})")
        if deadline is not None and time.monotonic() > deadline:
            raise _fail(f"the {who} process gave no {kind} within {timeout:g} s")
    try:
        got, value = conn.recv()
    except EOFError:
        raise _fail(f"the {who} process exited (code {proc.exitcode})") from None
    if got == "error":
        raise _fail(f"{who}: {value}")
    return value


def _run_local(args: argparse.Namespace) -> ThrResult | LatResult:
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    mp = multiprocessing.get_context(method)
    endpoint = args.bind or _DEFAULT_ENDPOINT
    mode = args.perf_mode
    # The binding side starts first; it reports its (possibly ephemeral) endpoint.
    bind_measures = mode == "thr"
    sides = []
    try:
        results = {}
        for bind in (True, False):
            measure = bind == bind_measures
            parent_end, child_end = mp.Pipe()
            proc = mp.Process(target=_child, daemon=True,
                              args=(child_end, mode, measure, endpoint, bind, args))
            proc.start()
            child_end.close()
            who = {("thr", True): "receiver", ("thr", False): "sender",
                   ("lat", True): "REQ", ("lat", False): "REP"}[(mode, measure)]
            sides.append((proc, parent_end, who, measure))
            endpoint = _expect(parent_end, proc, "ready", args.timeout, who)
        for proc, conn, who, measure in sides:
            results[measure] = _expect(conn, proc, "result", None, who)
        return results[True]
    finally:
        for proc, conn, _who, _m in sides:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(2)
            conn.close()


def run_perf(args: argparse.Namespace) -> int:
    """Run ``purezmq perf thr|lat`` from parsed arguments; return the exit code."""
    mode = getattr(args, "perf_mode", None)
    if mode not in ("thr", "lat"):
        raise _usage("choose a mode: 'purezmq perf thr' or 'purezmq perf lat' (see --help)")
    if args.local:
        if args.connect:
            raise _usage("--local runs both sides: give at most --bind EP, not --connect")
        if args.role != "auto":
            raise _usage("--role does not apply to --local")
        if args.count < 2:
            raise _usage("--count: need at least 2 messages")
        endpoint = args.bind or _DEFAULT_ENDPOINT
        what = ("PUSH -> PULL" if mode == "thr" else "REQ <-> REP") + f" over {endpoint}"
        print(f"purezmq perf {mode}: {what}, two local processes", file=sys.stderr,
              flush=True)
        result = _run_local(args)
    else:
        if bool(args.bind) == bool(args.connect):
            raise _usage("give exactly one of --bind EP or --connect EP (or --local)")
        bind = bool(args.bind)
        endpoint = args.bind or args.connect
        measure = _measures(args, bind)
        if measure and args.count < 2:
            raise _usage("--count: need at least 2 messages")

        def ready(ep: str) -> None:
            verb = "bound" if bind else "connected to"
            print(f"purezmq perf {mode}: {verb} {ep}, "
                  f"{'measuring' if measure else 'serving'}", file=sys.stderr, flush=True)

        result = _run_side(mode, measure, endpoint, bind, args, on_ready=ready)
    if isinstance(result, str):
        print(result, flush=True)
    else:
        print("\n".join(line for line in result.lines() if line), flush=True)
    return 0


def _register() -> None:
    """Make ``purezmq perf`` a subcommand of the ``purezmq`` command line."""
    try:
        from purezmq.__main__ import add_subcommand
    except ImportError:  # pragma: no cover
        return
    add_subcommand("perf", setup_perf, run_perf, replace=True,
                   help="throughput and latency tests (like libzmq's local_thr/remote_lat)")


def main(argv: list[str] | None = None) -> int:
    """``python -m purezmq.perf thr|lat ...``"""
    parser = argparse.ArgumentParser(prog="purezmq perf", description=__doc__.split("\n\n")[0])
    setup_perf(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    try:
        return run_perf(args)
    except (PerfError, *_cli_errors()) as e:
        print(f"purezmq perf: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 1)
    except zmq.ZMQError as e:
        print(f"purezmq perf: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


_register()

if __name__ == "__main__":
    sys.exit(main())
