"""PUB -> N SUB over tcp: CPU time per published message in the PUB and per delivered
message in the SUBs, for purezmq and pyzmq.

With 17 processes on 2 cores the fan-out row of ``bench/run.py`` is bound by the CPU all
processes spend per published message; this splits it between publisher and subscribers
(CPU time from ``time.process_time``, so other load on the machine barely moves it).

    python bench/profile_fanout.py                  # both libraries, 16 SUBs, 2 s, 3 rounds
    python bench/profile_fanout.py --subs 4 --lib purezmq --src /some/tree/src
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM, END = b"W", b"E"


def _load(lib: str, src: str | None):
    if lib == "purezmq":
        sys.path.insert(0, src or str(ROOT / "src"))
        return importlib.import_module("purezmq")
    return importlib.import_module("zmq")


def publisher(lib, src, q, ready, nsubs, duration, size) -> None:
    zmq = _load(lib, src)
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUB)
    s.linger = 0
    s.sndtimeo = 20_000
    s.setsockopt(zmq.XPUB_NODROP, 1)
    s.bind("tcp://127.0.0.1:*")
    q.put(s.getsockopt(zmq.LAST_ENDPOINT).decode())
    for _ in range(nsubs):
        ready.get(timeout=60)
    t_end = time.monotonic() + 0.3
    while time.monotonic() < t_end:  # until every subscription has arrived
        s.send(WARM)
    msg = b"\0" * size
    sent = 0
    c0, t0 = time.process_time(), time.monotonic()
    deadline = t0 + duration
    while time.monotonic() < deadline:
        for _ in range(1000):
            s.send(msg)
        sent += 1000
    c1, t1 = time.process_time(), time.monotonic()
    for _ in range(2000):
        try:
            s.send(END, zmq.NOBLOCK)
        except zmq.Again:
            time.sleep(0.001)
    q.put(("pub", sent, c1 - c0, t1 - t0))
    time.sleep(0.5)
    ctx.destroy(linger=0)


def subscriber(lib, src, ep, q, ready, size) -> None:
    zmq = _load(lib, src)
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.linger = 0
    s.rcvtimeo = 20_000
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(ep)
    ready.put(1)
    recv = s.recv
    while recv() == WARM:
        pass
    n = 1
    c0 = time.process_time()
    while True:  # the same loop as bench/workloads.py's fan_subscriber
        m = recv()
        if len(m) == size:
            n += 1
        elif m == END:
            break
    q.put(("sub", n, time.process_time() - c0, 0.0))
    ctx.destroy(linger=0)


def one_run(lib: str, src: str | None, nsubs: int, duration: float, size: int) -> dict:
    q: mp.Queue = mp.Queue()
    ready: mp.Queue = mp.Queue()
    pub = mp.Process(target=publisher, args=(lib, src, q, ready, nsubs, duration, size))
    pub.start()
    ep = q.get(timeout=60)
    subs = [mp.Process(target=subscriber, args=(lib, src, ep, q, ready, size))
            for _ in range(nsubs)]
    for p in subs:
        p.start()
    results = [q.get(timeout=duration + 60) for _ in range(nsubs + 1)]
    for p in [pub, *subs]:
        p.join(10)
    _, sent, pub_cpu, wall = next(r for r in results if r[0] == "pub")
    subs_r = [r for r in results if r[0] == "sub"]
    delivered = sum(r[1] for r in subs_r)
    sub_cpu = sum(r[2] for r in subs_r)
    return {
        "delivered/s": delivered / wall,
        "pub us/msg": pub_cpu / sent * 1e6,
        "sub ns/delivered": sub_cpu / delivered * 1e9,
        "total us/published": (pub_cpu + sub_cpu) / sent * 1e6,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subs", type=int, default=16)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--lib", choices=["both", "purezmq", "pyzmq"], default="both")
    ap.add_argument("--src", help="purezmq's src/ directory (default: this checkout's)")
    args = ap.parse_args(argv)
    libs = ["pyzmq", "purezmq"] if args.lib == "both" else [args.lib]
    runs: dict[str, list[dict]] = {lib: [] for lib in libs}
    for _ in range(args.rounds):  # alternating, as bench/run.py does
        for lib in libs:
            r = one_run(lib, args.src, args.subs, args.duration, args.size)
            runs[lib].append(r)
            print(f"{lib:8} " + "  ".join(f"{k} {v:,.2f}" for k, v in r.items()), flush=True)
    print(f"\nmedians, PUB -> {args.subs} SUB, {args.size} B, tcp:")
    for lib in libs:
        keys = runs[lib][0].keys()
        print(f"{lib:8} " + "  ".join(
            f"{k} {statistics.median(r[k] for r in runs[lib]):,.2f}" for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
