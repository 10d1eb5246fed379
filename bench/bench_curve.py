"""CURVE security: purezmq vs pyzmq (libzmq), side by side.

    python bench/bench_curve.py [--quick] [--runs N] [--only thr64,thr64k,hs,hszap] [--no-write]

* ``thr64`` / ``thr64k``: PUSH/PULL throughput over tcp with CURVE, 64 B and 64 KiB
  messages; sender and receiver are two processes; the receiver times from its first to its
  last message (libzmq's ``local_thr`` method).  Every frame is boxed and unboxed
  (XSalsa20-Poly1305), so this is mostly the cost of the cryptography per message.
* ``hs`` / ``hszap``: CURVE handshakes per second.  A client process opens connections
  ``WINDOW`` at a time (a DEALER each: connect, send one message, wait for the server's
  echo, close); a ROUTER server answers.  ``hs`` has no ZAP handler (any client with the
  server's key, the "Stonehouse" pattern); ``hszap`` runs the library's own
  ``ThreadAuthenticator`` (``CURVE_ALLOW_ANY``), so each handshake also makes a ZAP round
  trip.  Each connection costs a key pair, four boxes and two opens on each side.
* ``NULL`` rows of the same handshake benchmark, for scale (``hsnull``).

Both ends of a benchmark use the same library.  Runs alternate between the libraries
(``--runs`` rounds, the first library alternating too) and the median of each is reported
with the ratio purezmq / pyzmq.  Every run is bounded (a time cap in the workers,
``RCVTIMEO`` on every socket, and the orchestrator kills what is left).  The report goes to
``bench/RESULTS_curve.md`` (the lead merges it into ``RESULTS.md``).
"""

from __future__ import annotations

import argparse
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
LIBS = ("pyzmq", "purezmq")
LOCAL = "tcp://127.0.0.1"
WINDOW = 16  # connections in flight in the handshake benchmark


# -- inside the worker processes ---------------------------------------------------------
def _lib(lib: str):
    if lib == "pyzmq":
        import zmq
        import zmq.auth.thread as zthread

        return zmq, zthread.ThreadAuthenticator
    sys.path.insert(0, str(SRC))
    import purezmq
    import purezmq.auth.thread as pthread

    return purezmq, pthread.ThreadAuthenticator


def _child(fn, conn, args) -> None:
    try:
        fn(conn, *args)
    except BaseException:
        conn.send(("error", traceback.format_exc(limit=6)))
    finally:
        conn.close()


def _curve_server(sock, secret: bytes) -> None:
    sock.curve_server = True
    sock.curve_secretkey = secret


def _curve_client(zmq, sock, server_public: bytes) -> None:
    public, secret = zmq.curve_keypair()
    sock.curve_serverkey = server_public
    sock.curve_publickey = public
    sock.curve_secretkey = secret


def thr_receiver(conn, lib, keys, n, size, cap):
    zmq, _ = _lib(lib)
    ctx = zmq.Context()
    s = ctx.socket(zmq.PULL)
    s.rcvtimeo = 15000
    _curve_server(s, keys[1])
    port = s.bind_to_random_port(LOCAL)
    conn.send(("ready", port))
    s.recv()
    t0 = time.perf_counter()
    deadline = t0 + cap
    count = 1
    while count < n:
        s.recv()
        count += 1
        if not count & 255 and time.perf_counter() > deadline:
            break
    dt = time.perf_counter() - t0
    s.close(0)
    ctx.term()
    conn.send(("result", (count - 1) / dt))


def thr_sender(conn, lib, keys, port, n, size):
    zmq, _ = _lib(lib)
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.sndtimeo = 15000
    _curve_client(zmq, s, keys[0])
    s.connect(f"{LOCAL}:{port}")
    msg = b"x" * size
    try:
        for _ in range(n):
            s.send(msg)
    except zmq.Again:
        pass  # the receiver stopped at its time cap
    s.close(linger=15000)  # what is queued still goes (the receiver may have stopped)
    ctx.term()
    conn.send(("result", None))


def hs_server(conn, lib, keys, mech, zap):
    zmq, thread_authenticator = _lib(lib)
    ctx = zmq.Context()
    auth = None
    if zap:
        auth = thread_authenticator(ctx)
        auth.start()
        auth.configure_curve("*", "*")  # CURVE_ALLOW_ANY
    s = ctx.socket(zmq.ROUTER)
    s.rcvtimeo = 10000
    s.linger = 0
    if mech == "CURVE":
        _curve_server(s, keys[1])
    port = s.bind_to_random_port(LOCAL)
    conn.send(("ready", port))
    served = 0
    try:
        while True:
            rid, body = s.recv_multipart()
            if body == b"stop":
                break
            s.send_multipart([rid, body])
            served += 1
    except zmq.Again:
        pass
    s.close(0)
    if auth is not None:
        auth.stop()
    ctx.term()
    conn.send(("result", served))


def hs_client(conn, lib, keys, mech, port, n, cap):
    zmq, _ = _lib(lib)
    ctx = zmq.Context()
    poller = zmq.Poller()
    addr = f"{LOCAL}:{port}"

    def opened():
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        if mech == "CURVE":
            _curve_client(zmq, s, keys[0])
        s.connect(addr)
        s.send(b"hello")
        poller.register(s, zmq.POLLIN)
        return s

    t0 = time.perf_counter()
    deadline = t0 + cap
    live = {opened() for _ in range(min(WINDOW, n))}
    started, done = len(live), 0
    while live and time.perf_counter() < deadline:
        for s, _ in poller.poll(5000) or []:
            s.recv()
            poller.unregister(s)
            live.discard(s)
            s.close(0)
            done += 1
            if started < n:
                live.add(opened())
                started += 1
    dt = time.perf_counter() - t0
    for s in live:
        s.close(0)
    stop = ctx.socket(zmq.DEALER)
    stop.linger = 1000
    if mech == "CURVE":
        _curve_client(zmq, stop, keys[0])
    stop.connect(addr)
    stop.send(b"stop")
    stop.close()
    ctx.term()
    conn.send(("result", done / dt))


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

    def stop(self, timeout: float = 5.0) -> None:
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(1)


def _keys():
    """A server key pair (Z85), made without loading either library in this process."""
    from nacl import bindings

    sys.path.insert(0, str(SRC))
    from purezmq.utils import z85  # pure Python, no sockets, no threads

    public, secret = bindings.crypto_box_keypair()
    return z85.encode(public), z85.encode(secret)


def run_thr(lib: str, size: int, n: int, cap: float) -> float:
    keys = _keys()
    rx = Worker(thr_receiver, lib, keys, n, size, cap)
    tx = None
    try:
        port = rx.expect("ready", 30)
        tx = Worker(thr_sender, lib, keys, port, n, size)
        return rx.expect("result", cap + 60)
    finally:
        rx.stop()
        if tx is not None:
            tx.stop(20)


def run_hs(lib: str, mech: str, zap: bool, n: int, cap: float) -> float:
    keys = _keys()
    srv = Worker(hs_server, lib, keys, mech, zap)
    cli = None
    try:
        port = srv.expect("ready", 30)
        cli = Worker(hs_client, lib, keys, mech, port, n, cap)
        rate = cli.expect("result", cap + 60)
        srv.expect("result", 30)
        return rate
    finally:
        if cli is not None:
            cli.stop()
        srv.stop()


KiB = 1024
BENCHES = {
    # name: (description, unit, run(lib, quick, cap))
    "thr64": (
        "CURVE PUSH/PULL throughput, 64 B, tcp, 2 processes",
        "msg/s",
        lambda lib, quick, cap: run_thr(lib, 64, 50_000 if quick else 400_000, cap),
    ),
    "thr64k": (
        "CURVE PUSH/PULL throughput, 64 KiB, tcp, 2 processes",
        "msg/s",
        lambda lib, quick, cap: run_thr(lib, 64 * KiB, 3_000 if quick else 20_000, cap),
    ),
    "hs": (
        f"CURVE handshakes, no ZAP (connect + 1 round trip + close, {WINDOW} in flight)",
        "conn/s",
        lambda lib, quick, cap: run_hs(lib, "CURVE", False, 300 if quick else 2_000, cap),
    ),
    "hszap": (
        "CURVE handshakes with ZAP (ThreadAuthenticator, CURVE_ALLOW_ANY)",
        "conn/s",
        lambda lib, quick, cap: run_hs(lib, "CURVE", True, 300 if quick else 2_000, cap),
    ),
    "hsnull": (
        "NULL handshakes, for scale (same loop, no security)",
        "conn/s",
        lambda lib, quick, cap: run_hs(lib, "NULL", False, 300 if quick else 2_000, cap),
    ),
}


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "failed"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer messages and connections, 1 run")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--only", default=",".join(BENCHES))
    ap.add_argument("--output", default=str(HERE / "RESULTS_curve.md"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    cap = 5.0 if args.quick else 10.0
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    for name in names:
        if name not in BENCHES:
            ap.error(f"unknown benchmark {name!r} (have: {', '.join(BENCHES)})")

    load_before = os.getloadavg()[0]
    started = time.monotonic()
    rows = []
    for name in names:
        desc, unit, run = BENCHES[name]
        values: dict[str, list[float]] = {lib: [] for lib in LIBS}
        for r in range(runs):
            order = LIBS if r % 2 == 0 else LIBS[::-1]
            for lib in order:
                try:
                    v = run(lib, args.quick, cap)
                except BenchError as e:
                    print(f"  {name} {lib}: FAILED {e}", flush=True)
                    continue
                values[lib].append(v)
                print(f"  {name} {lib} run {r + 1}: {_fmt(v, unit)} {unit}", flush=True)
        med = {lib: statistics.median(v) if v else None for lib, v in values.items()}
        rows.append((desc, unit, med, values))

    def cell(values, med, lib, unit):
        v = values[lib]
        text = f"{_fmt(med[lib], unit)} {unit}"
        if len(v) > 1:
            text += f" ({_fmt(min(v), unit)}–{_fmt(max(v), unit)})"
        return text

    lines = ["| benchmark | pyzmq | purezmq | purezmq / pyzmq |", "|---|---:|---:|---:|"]
    for desc, unit, med, values in rows:
        ratio = "n/a"
        if med["pyzmq"] and med["purezmq"]:
            ratio = f"{med['purezmq'] / med['pyzmq']:.2f}"
        lines.append(
            f"| {desc} | {cell(values, med, 'pyzmq', unit)} | "
            f"{cell(values, med, 'purezmq', unit)} | {ratio} |"
        )
    table = "\n".join(lines)
    print()
    print(table)

    if not args.no_write:
        import nacl
        import zmq  # only now: the workers are done, fork no more

        when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
        cmd = "python bench/bench_curve.py" + (" --quick" if args.quick else "")
        text = (
            "## CURVE\n\n"
            f"`{cmd}` ({when}; {runs} alternating run(s), medians; total "
            f"{time.monotonic() - started:.0f} s; Python {platform.python_version()}, "
            f"pyzmq {zmq.__version__} (libzmq {zmq.zmq_version()}, libsodium inside), "
            f"PyNaCl {nacl.__version__} for purezmq; {os.cpu_count()} CPUs, "
            f"{platform.machine()}; {load}: on a shared machine, expect run-to-run "
            "spread).\n"
            "Both ends of each benchmark use the same library, in two processes.  Higher is "
            "better everywhere; the ratio is purezmq / pyzmq.  Cells: median (min–max of "
            "the runs).\n\n" + table + "\n"
        )
        Path(args.output).write_text(text)
        print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
