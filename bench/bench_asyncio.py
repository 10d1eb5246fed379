"""purezmq.asyncio vs pyzmq's zmq.asyncio, side by side.

    python bench/bench_asyncio.py [--quick] [--runs N] [--loops asyncio,uvloop] [--no-write]

* ``thr``: PUSH/PULL throughput of 64-byte messages over tcp, sender and receiver in two
  processes, both using the library's asyncio API (``await push.send`` /
  ``await pull.recv``).  The receiver times from its first to its last message.
* ``lat``: REQ/REP round-trip latency of 64-byte messages over tcp, two processes, both
  ends asyncio.

Each benchmark runs on asyncio's default loop and on uvloop (when installed), for pyzmq,
purezmq (connections on its I/O thread) and purezmq with ``io_on_loop=True`` (connections
on the event loop) *alternately* (``--runs`` rounds, the order rotating); the median of
each one's runs is reported with the ratio to pyzmq.  Every run is bounded (a
time cap in the workers, ``RCVTIMEO``, and the orchestrator kills what is left).  The
report goes to ``bench/RESULTS_asyncio.md`` (the lead merges it into ``RESULTS.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
MP = mp.get_context("fork")  # the parent imports neither library and starts no thread
LIBS = ("pyzmq", "purezmq", "purezmq-loop")  # purezmq-loop: Context(io_on_loop=True)
LOCAL = "tcp://127.0.0.1"


# -- inside the worker processes ---------------------------------------------------------
def _lib(lib: str):
    """(the library, a factory of its async context)."""
    if lib == "pyzmq":
        import zmq
        import zmq.asyncio as zaio

        return zmq, zaio.Context
    sys.path.insert(0, str(SRC))
    import purezmq as zmq
    import purezmq.asyncio as zaio

    on_loop = lib == "purezmq-loop"
    return zmq, lambda: zaio.Context(io_on_loop=on_loop)


def _run(loop_kind: str, coro):
    if loop_kind == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def _child(fn, conn, args) -> None:
    try:
        fn(conn, *args)
    except BaseException:
        conn.send(("error", traceback.format_exc(limit=6)))
    finally:
        conn.close()


def thr_receiver(conn, lib, loop_kind, n, size, cap):
    zmq, new_context = _lib(lib)

    async def main():
        ctx = new_context()
        s = ctx.socket(zmq.PULL)
        s.rcvtimeo = 10000
        port = s.bind_to_random_port(LOCAL)
        conn.send(("ready", port))
        await s.recv()
        t0 = time.perf_counter()
        deadline = t0 + cap
        count = 1
        while count < n:
            await s.recv()
            count += 1
            if not count & 1023 and time.perf_counter() > deadline:
                break
        dt = time.perf_counter() - t0
        s.close(0)
        ctx.term()
        return (count - 1) / dt

    conn.send(("result", _run(loop_kind, main())))


def thr_sender(conn, lib, loop_kind, port, n, size):
    zmq, new_context = _lib(lib)

    async def main():
        ctx = new_context()
        s = ctx.socket(zmq.PUSH)
        s.sndtimeo = 10000
        s.linger = 2000
        s.connect(f"{LOCAL}:{port}")
        msg = b"x" * size
        for _ in range(n):
            await s.send(msg)
        s.close()
        ctx.term()

    _run(loop_kind, main())
    conn.send(("result", None))


def lat_server(conn, lib, loop_kind, n, size):
    zmq, new_context = _lib(lib)

    async def main():
        ctx = new_context()
        s = ctx.socket(zmq.REP)
        s.rcvtimeo = 5000
        port = s.bind_to_random_port(LOCAL)
        conn.send(("ready", port))
        try:
            for _ in range(n):
                await s.send(await s.recv())
        except zmq.Again:
            pass
        s.close(0)
        ctx.term()

    _run(loop_kind, main())
    conn.send(("result", None))


def lat_client(conn, lib, loop_kind, port, n, size, cap):
    zmq, new_context = _lib(lib)

    async def main():
        ctx = new_context()
        s = ctx.socket(zmq.REQ)
        s.rcvtimeo = s.sndtimeo = 5000
        s.connect(f"{LOCAL}:{port}")
        msg = b"x" * size
        warm = min(200, n // 10)
        for _ in range(warm):
            await s.send(msg)
            await s.recv()
        t0 = time.perf_counter()
        deadline = t0 + cap
        done = 0
        for _ in range(n - warm):
            await s.send(msg)
            await s.recv()
            done += 1
            if not done & 255 and time.perf_counter() > deadline:
                break
        dt = time.perf_counter() - t0
        s.close(0)
        ctx.term()
        return dt / done * 1e6

    conn.send(("result", _run(loop_kind, main())))


# -- the orchestrator ------------------------------------------------------------------------
class BenchError(Exception):
    pass


class Worker:
    def __init__(self, fn, *args) -> None:
        parent, child = MP.Pipe()
        self.conn = parent
        self.proc = MP.Process(target=_child, args=(fn, child, args), daemon=True)
        self.proc.start()
        child.close()

    def expect(self, kind: str, timeout: float):
        if not self.conn.poll(timeout):
            raise BenchError(f"no {kind} within {timeout:.0f} s")
        try:
            got, data = self.conn.recv()
        except (EOFError, OSError):
            raise BenchError(f"worker died (exit code {self.proc.exitcode})") from None
        if got == "error":
            raise BenchError(data.strip().splitlines()[-1])
        if got != kind:
            raise BenchError(f"expected {kind}, got {got}")
        return data

    def stop(self) -> None:
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(1)


def run_thr(lib: str, loop_kind: str, n: int, size: int, cap: float) -> float:
    rx = Worker(thr_receiver, lib, loop_kind, n, size, cap)
    tx = None
    try:
        port = rx.expect("ready", 30)
        tx = Worker(thr_sender, lib, loop_kind, port, n, size)
        return rx.expect("result", cap + 60)
    finally:
        rx.stop()
        if tx is not None:
            tx.stop()


def run_lat(lib: str, loop_kind: str, n: int, size: int, cap: float) -> float:
    srv = Worker(lat_server, lib, loop_kind, n, size)
    cli = None
    try:
        port = srv.expect("ready", 30)
        cli = Worker(lat_client, lib, loop_kind, port, n, size, cap)
        return cli.expect("result", cap + 60)
    finally:
        if cli is not None:
            cli.stop()
        srv.stop()


BENCHES = {
    # name: (runner, unit, higher is better, description)
    "thr": (run_thr, "msg/s", True, "PUSH/PULL throughput, 64 B, tcp, 2 processes"),
    "lat": (run_lat, "µs", False, "REQ/REP round trip, 64 B, tcp, 2 processes"),
}


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "failed"
    if unit == "msg/s":
        return f"{value:,.0f}"
    return f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer messages, 1 run")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--loops", default="asyncio,uvloop")
    ap.add_argument("--output", default=str(HERE / "RESULTS_asyncio.md"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    thr_n, lat_n = (50_000, 2_000) if args.quick else (300_000, 10_000)
    cap = 5.0 if args.quick else 15.0
    size = 64

    loops = []
    for kind in args.loops.split(","):
        kind = kind.strip()
        if kind == "uvloop":
            try:
                import uvloop  # noqa: F401 (only checks it is there; the workers use it)
            except ImportError:
                print("uvloop is not installed: skipping its runs")
                continue
        loops.append(kind)

    load_before = os.getloadavg()[0]
    rows = []
    for loop_kind in loops:
        for name, (runner, unit, higher, desc) in BENCHES.items():
            n = thr_n if name == "thr" else lat_n
            values: dict[str, list[float]] = {lib: [] for lib in LIBS}
            errors: dict[str, str] = {}
            for r in range(runs):
                order = LIBS[r % len(LIBS):] + LIBS[: r % len(LIBS)]
                for lib in order:
                    try:
                        v = runner(lib, loop_kind, n, size, cap)
                    except BenchError as e:
                        errors[lib] = str(e)
                        print(f"  {name} {loop_kind} {lib}: FAILED {e}")
                        continue
                    values[lib].append(v)
                    print(f"  {name} {loop_kind} {lib} run {r + 1}: {_fmt(v, unit)} {unit}")
            med = {lib: statistics.median(v) if v else None for lib, v in values.items()}
            rows.append((desc, loop_kind, unit, higher, med, values))

    def ratio(med, lib, higher):
        if not med["pyzmq"] or not med[lib]:
            return "n/a"
        r = med[lib] / med["pyzmq"]
        better = r >= 1 if higher else r <= 1
        return f"{r:.2f} ({'better' if better else 'worse'})"

    header = (
        "| benchmark | loop | pyzmq | purezmq | purezmq io_on_loop | purezmq / pyzmq "
        "| io_on_loop / pyzmq |"
    )
    lines = [header, "|---|---|---:|---:|---:|---:|---:|"]
    def cell(values, med, lib, unit):
        v = values[lib]
        text = f"{_fmt(med[lib], unit)} {unit}"
        if len(v) > 1:
            text += f" ({_fmt(min(v), unit)}–{_fmt(max(v), unit)})"
        return text

    for desc, loop_kind, unit, higher, med, values in rows:
        lines.append(
            f"| {desc} | {loop_kind} | {cell(values, med, 'pyzmq', unit)} | "
            f"{cell(values, med, 'purezmq', unit)} | {cell(values, med, 'purezmq-loop', unit)} | "
            f"{ratio(med, 'purezmq', higher)} | {ratio(med, 'purezmq-loop', higher)} |"
        )
    table = "\n".join(lines)
    print()
    print(table)

    if not args.no_write:
        import zmq  # only now: the workers are done, fork no more

        try:
            import uvloop

            uv = f", uvloop {uvloop.__version__}"
        except ImportError:
            uv = ""
        when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
        cmd = "python bench/bench_asyncio.py" + (" --quick" if args.quick else "")
        text = (
            "## asyncio\n\n"
            f"`{cmd}` ({when}; {runs} alternating run(s), medians; "
            f"Python {platform.python_version()}, pyzmq {zmq.__version__} "
            f"(libzmq {zmq.zmq_version()}){uv}; {os.cpu_count()} CPUs, {platform.machine()}; "
            f"{load}: on a shared machine, expect run-to-run spread).\n"
            "Both ends of each benchmark use the library's asyncio API, in separate "
            "processes.  The purezmq column is `purezmq.asyncio.Context(io_on_loop=False)` "
            "(connections on an I/O thread); *io_on_loop* is the default, "
            "`Context(io_on_loop=True)`, which runs them on the event loop (no I/O "
            "thread).  For latency lower is better: a ratio below 1 "
            "means purezmq is faster.  Cells: median (min–max of the runs).\n\n"
            + table + "\n"
        )
        Path(args.output).write_text(text)
        print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
