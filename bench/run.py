"""purezmq vs pyzmq benchmarks: one command, alternating runs, medians, a Markdown report.

    python bench/run.py [--quick] [--only NAME[,NAME...]] [--runs N]

Each benchmark runs for pyzmq and purezmq *alternately* (``--runs`` rounds, 3 by default;
the first library of a round alternates too), and the median of each library's runs is
reported with the ratio purezmq/pyzmq.  Sender and receiver are separate processes (inproc:
two threads of one process).  The same code in ``bench/workloads.py`` drives both
libraries: it is written against pyzmq's API and imports ``zmq`` or ``purezmq`` by name.

Every run is bounded: receivers time from their first to their last message over a fixed
count (libzmq's ``local_thr`` method) but stop at a time cap, every recv has ``RCVTIMEO``,
and the orchestrator kills whatever is left.  A failed run is recorded in the table, not
raised.  The report goes to ``bench/RESULTS.md`` (``--output``; ``--no-write`` to skip).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import multiprocessing as mp
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))  # benchmark this checkout's purezmq
sys.path.insert(0, str(HERE))

import workloads  # noqa: E402

MP = mp.get_context("fork")  # the parent never imports either library, so fork is safe
LIBS = ("pyzmq", "purezmq")
MODULES = {"pyzmq": "zmq", "purezmq": "purezmq"}
KiB, MiB = 1024, 1024 * 1024


class BenchError(Exception):
    pass


# -- processes ---------------------------------------------------------------------------
class Worker:
    """One benchmark process and the pipe to it."""

    def __init__(self, name: str, target, *args) -> None:
        self.name = name
        parent, child = MP.Pipe()
        self.conn = parent
        self.proc = MP.Process(
            target=workloads.child_main, args=(target, child, args), name=name, daemon=True
        )
        self.proc.start()
        child.close()

    def expect(self, kind: str, timeout: float):
        if not self.conn.poll(timeout):
            raise BenchError(f"{self.name}: no {kind} within {timeout:.0f} s")
        try:
            got, data = self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(1)
            raise BenchError(f"{self.name} died (exit code {self.proc.exitcode})") from None
        if got == "error":
            raise BenchError(f"{self.name}: {data}")
        if got != kind:
            raise BenchError(f"{self.name}: expected {kind}, got {got}")
        return data

    def tell(self, msg) -> None:
        try:
            self.conn.send(msg)
        except OSError:
            pass

    def stop(self, timeout: float = 5.0) -> None:
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(2)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(2)
        self.conn.close()


class Workers(list):
    """Stops every worker it holds on exit, whatever happened (and removes ``cleanup``
    files, such as ipc socket paths a killed process could not unlink)."""

    def __init__(self) -> None:
        super().__init__()
        self.cleanup: list[str] = []

    def start(self, name: str, target, *args) -> Worker:
        w = Worker(name, target, *args)
        self.append(w)
        return w

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        for w in self:
            w.tell("stop")
        deadline = time.monotonic() + 2.0  # a blocked sender is not worth waiting for
        for w in self:
            w.stop(max(0.1, deadline - time.monotonic()))
        for path in self.cleanup:
            try:
                os.unlink(path)
            except OSError:
                pass


# -- other load on the machine -------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_snapshot() -> tuple[float, float, float]:
    """(wall time, CPU seconds busy machine-wide, CPU seconds of us and our reaped children)."""
    try:
        v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / _TICK
    except (OSError, ValueError, IndexError):
        busy = float("nan")
    ours = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        ours += ru.ru_utime + ru.ru_stime
    return time.monotonic(), busy, ours


def other_load(before: tuple, after: tuple) -> float:
    """CPUs' worth of work done by processes other than the benchmark during a run."""
    wall = after[0] - before[0]
    if wall <= 0:
        return 0.0
    return max(0.0, ((after[1] - before[1]) - (after[2] - before[2])) / wall)


CONTENDED = 0.25  # a run is flagged when others used more than this many CPUs


class QuietWaiter:
    """Before a run, wait (up to ``per_run`` s, ``budget`` s in all) until others are idle."""

    def __init__(self, per_run: float, budget: float) -> None:
        self.per_run = per_run
        self.left = budget
        self.waited = 0.0

    def __call__(self) -> None:
        limit = min(self.per_run, self.left)
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            a = _cpu_snapshot()
            time.sleep(0.3)
            if other_load(a, _cpu_snapshot()) < CONTENDED:
                break
        spent = time.monotonic() - t0
        self.left -= spent
        self.waited += spent


# -- benchmarks ---------------------------------------------------------------------------
@dataclass
class Row:
    id: str
    title: str
    kind: str  # thr | lat | fan | mem
    unit: str
    better: str  # higher | lower
    params: dict = field(default_factory=dict)


def _hwm(size: int) -> int:
    """Default HWM (1000), lowered for big messages so queues stay under ~64 MiB per side."""
    return min(1000, max(16, (64 * MiB) // size))


_ipc_seq = 0


def _endpoint(transport: str) -> str:
    global _ipc_seq
    if transport == "tcp":
        return "tcp://127.0.0.1:*"
    if transport == "ws":
        return "ws://127.0.0.1:*/bench"
    if transport == "ipc":
        _ipc_seq += 1
        return f"ipc:///tmp/purezmq-bench-{os.getpid()}-{_ipc_seq}.ipc"
    return "inproc://bench"


def _per_million(*parts: tuple[float, int]) -> float:
    """CPU seconds per million messages, summed over (CPU seconds, messages) per process."""
    return sum(cpu / n for cpu, n in parts if n) * 1e6


def placement(kind) -> tuple:
    """(CPU of the first process, CPU of the second) for a placement: ``None`` (unpinned),
    ``"same"`` (both on one CPU) or ``"split"`` (two different CPUs)."""
    if kind is None:
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if kind == "same":
        return cpus[0], cpus[0]
    if len(cpus) < 2:
        raise BenchError("needs two CPUs")
    return cpus[0], cpus[1]


def run_thr(lib: str, row: Row, cfg: dict) -> dict:
    p = row.params
    size, transport, curve = p["size"], p["transport"], p.get("curve", False)
    count = max(1000, int(p["count"] * cfg["scale"]))
    cap, hwm, mod = cfg["cap"], _hwm(size), MODULES[lib]
    with Workers() as ws:
        if transport == "inproc":
            w = ws.start(f"{lib} inproc", workloads.thr_inproc, mod, _endpoint(transport),
                         size, count, cap, hwm)
            w.expect("ready", 30)
            res = w.expect("result", cap + 40)
            cpu = _per_million((res["cpu"], res["count"]))
        else:
            endpoint = _endpoint(transport)
            if endpoint.startswith("ipc://"):
                ws.cleanup.append(endpoint[len("ipc://"):])
            recv = ws.start(f"{lib} PULL", workloads.thr_receiver, mod, endpoint,
                            size, count, cap, hwm, curve)
            ep, key = recv.expect("ready", 30)
            send = ws.start(f"{lib} PUSH", workloads.thr_sender, mod, ep, size, count, cap,
                            hwm, key)
            res = recv.expect("result", cap + 40)
            try:
                sres = send.expect("result", 30)
                cpu = _per_million((res["cpu"], res["count"]), (sres["cpu"], sres["sent"]))
            except BenchError:
                cpu = None
    rate = res["count"] / res["elapsed"]
    return {"value": rate, "mbps": rate * size / 1e6, "n": res["count"],
            "capped": res["capped"], "cpu_m": cpu}


def run_lat(lib: str, row: Row, cfg: dict) -> dict:
    p = row.params
    count = max(200, int(p["count"] * cfg["scale"]))
    cap, mod = cfg["cap"], MODULES[lib]
    cpu_srv, cpu_cli = placement(p.get("placement"))
    with Workers() as ws:
        srv = ws.start(f"{lib} REP", workloads.lat_server, mod, _endpoint(p["transport"]), cap,
                       cpu_srv)
        ep = srv.expect("ready", 30)
        cli = ws.start(f"{lib} REQ", workloads.lat_client, mod, ep, p["size"], count, cap,
                       cpu_cli)
        res = cli.expect("result", cap + 60)
        sres = srv.expect("result", 30)
    rtt_us = res["elapsed"] / res["count"] * 1e6
    return {"value": rtt_us, "n": res["count"], "capped": res["capped"],
            "cpu_m": _per_million((res["cpu"], res["count"]), (sres["cpu"], sres["served"]))}


def run_alat(lib: str, row: Row, cfg: dict) -> dict:
    p = row.params
    count = max(200, int(p["count"] * cfg["scale"]))
    cap, mod = cfg["cap"], MODULES[lib]
    with Workers() as ws:
        srv = ws.start(f"{lib} asyncio REP", workloads.alat_server, mod, p["size"])
        ep = srv.expect("ready", 30)
        cli = ws.start(f"{lib} asyncio REQ", workloads.alat_client, mod, ep, p["size"],
                       count, cap)
        res = cli.expect("result", cap + 60)
        sres = srv.expect("result", 30)
    return {"value": res["elapsed"] / res["count"] * 1e6, "n": res["count"],
            "capped": res["capped"],
            "cpu_m": _per_million((res["cpu"], res["count"]), (sres["cpu"], sres["served"]))}


def run_fan(lib: str, row: Row, cfg: dict) -> dict:
    p = row.params
    nsubs, size, duration, mod = p["subs"], p["size"], cfg["fan_duration"], MODULES[lib]
    nodrop = p.get("nodrop", cfg["nodrop"])
    with Workers() as ws:
        pub = ws.start(f"{lib} PUB", workloads.fan_publisher, mod, _endpoint("tcp"), size,
                       duration, nodrop)
        ep = pub.expect("ready", 30)
        subs = [ws.start(f"{lib} SUB{i}", workloads.fan_subscriber, mod, ep, size)
                for i in range(nsubs)]
        for s in subs:
            s.expect("ready", 90)
        pub.tell("go")
        results = [s.expect("result", duration + 60) for s in subs]
        pub.tell("stop")
        pres = pub.expect("result", 30)
    delivered = sum(r["count"] for r in results)
    got = [r for r in results if r["count"]]
    if not got:
        raise BenchError("no subscriber received any data message")
    span = max(r["t_end"] for r in got) - min(r["t_first"] for r in got)
    sent = pres["sent"]
    cpu = pres["cpu"] + sum(r["cpu"] for r in results)
    return {"value": delivered / span, "n": delivered,
            "delivered_pct": 100.0 * delivered / max(1, sent * nsubs),
            "pub_rate": sent / (pres["t1"] - pres["t0"]),
            "cpu_m": _per_million((cpu, delivered))}


def run_hs(lib: str, row: Row, cfg: dict) -> dict:
    p = row.params
    n = max(100, int(p["count"] * cfg["scale"]))
    mod = MODULES[lib]
    with Workers() as ws:
        srv = ws.start(f"{lib} ROUTER", workloads.hs_server, mod, p["mech"], p["zap"])
        ep, key = srv.expect("ready", 30)
        cli = ws.start(f"{lib} DEALERs", workloads.hs_client, mod, ep, key, n,
                       cfg["cap"] * 3)
        res = cli.expect("result", cfg["cap"] * 3 + 60)
        srv.expect("result", 30)
    return {"value": res["count"] / res["elapsed"], "n": res["count"],
            "capped": res["capped"]}


def run_serve(lib: str, row: Row, cfg: dict) -> dict:
    p = row.params
    clients, requests, procs = p["clients"], p["requests"], p["procs"]
    mod = MODULES[lib]
    total = clients * requests
    with Workers() as ws:
        srv = ws.start(f"{lib} ROUTER", workloads.serve_router, mod, total)
        ep = srv.expect("ready", 30)
        split = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
        cls = [ws.start(f"{lib} DEALERx{k}", workloads.serve_clients, mod, ep, k, requests)
               for k in split]
        for c in cls:
            c.expect("ready", 60)
        for c in cls:
            c.tell("go")
        res = srv.expect("result", 120)
        cres = [c.expect("result", 60) for c in cls]
    cpu = res["cpu"] + sum(r["cpu"] for r in cres)
    return {"value": res["elapsed"] * 1e3, "n": total, "cpu_m": _per_million((cpu, total))}


def run_import(lib: str, row: Row, cfg: dict) -> dict:
    """Median, over fresh interpreters, of the time ``import <lib>`` takes."""
    code = (f"import time; t = time.perf_counter(); import {MODULES[lib]}; "
            "print(time.perf_counter() - t)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (cfg["src"], env.get("PYTHONPATH")) if p)
    # An installed package has its byte-code caches (pip compiles them; pyzmq's are in
    # site-packages): let the first start write purezmq's, even where the environment says
    # PYTHONDONTWRITEBYTECODE, so the timed starts do not compile the source each time.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times = []
    for i in range(row.params["starts"] + 1):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, timeout=60)
        if out.returncode:
            raise BenchError(out.stderr.strip().splitlines()[-1])
        if i:  # the first start may write the byte-code caches
            times.append(float(out.stdout))
    return {"value": statistics.median(times) * 1e3, "n": len(times)}


def run_mem(lib: str, row: Row, cfg: dict) -> dict:
    peers = cfg["peers"]
    per_proc = 2500
    nprocs = max(1, math.ceil(peers / per_proc))
    split = [peers // nprocs + (1 if i < peers % nprocs else 0) for i in range(nprocs)]
    mod = MODULES[lib]
    with Workers() as ws:
        router = ws.start(f"{lib} ROUTER", workloads.router_memory, mod, peers, 0.5)
        ep, _base = router.expect("ready", 30)
        dealers = [ws.start(f"{lib} DEALERx{k}", workloads.dealer_swarm, mod, ep, k)
                   for k in split]
        for d in dealers:
            d.expect("ready", 180)
        res = router.expect("result", 240)
    return {"value": res["rss_kb"] / 1024.0, "n": peers,
            "per_peer_kb": (res["rss_kb"] - res["base_kb"]) / peers,
            "base_mb": res["base_kb"] / 1024.0, "connect_s": res["connect_s"]}


def run_proxy(lib: str, row: Row, cfg: dict) -> dict:
    p = row.params
    size = p["size"]
    count = max(1000, int(p["count"] * cfg["scale"]))
    cap, hwm, mod = cfg["cap"], _hwm(size), MODULES[lib]
    with Workers() as ws:
        proxy = ws.start(f"{lib} proxy", workloads.proxy_streamer, mod, hwm)
        front, back = proxy.expect("ready", 30)
        recv = ws.start(f"{lib} PULL", workloads.thr_receiver_connect, mod, back,
                        size, count, cap, hwm)
        recv.expect("ready", 30)
        ws.start(f"{lib} PUSH", workloads.thr_sender, mod, front, size, count, cap, hwm)
        res = recv.expect("result", cap + 40)
    rate = res["count"] / res["elapsed"]
    return {"value": rate, "mbps": rate * size / 1e6, "n": res["count"],
            "capped": res["capped"]}


def run_subs(lib: str, row: Row, cfg: dict) -> dict:
    nsubs, mod = row.params["subs"], MODULES[lib]
    duration = cfg["fan_duration"]
    with Workers() as ws:
        pub = ws.start(f"{lib} XPUB", workloads.subs_publisher, mod, nsubs, duration)
        ep = pub.expect("ready", 30)
        sub = ws.start(f"{lib} SUB", workloads.subs_subscriber, mod, ep, nsubs)
        sub.expect("ready", 120)
        pres = pub.expect("result", duration + 120)
        sres = sub.expect("result", 60)
        pub.tell("stop")
    rate = sres["count"] / (pres["t1"] - pres["t0"])
    return {"value": rate, "n": sres["count"], "subscribe_s": pres["subscribe_s"]}


RUNNERS = {"thr": run_thr, "lat": run_lat, "fan": run_fan, "mem": run_mem,
           "proxy": run_proxy, "subs": run_subs, "hs": run_hs, "serve": run_serve,
           "alat": run_alat, "import": run_import}


def make_rows(cfg: dict) -> list[Row]:
    rows = []
    for size, count, label in ((64, 1_500_000, "64 B"), (KiB, 1_000_000, "1 KiB"),
                               (64 * KiB, 40_000, "64 KiB"), (MiB, 3_000, "1 MiB")):
        sid = {64: "64", KiB: "1k", 64 * KiB: "64k", MiB: "1m"}[size]
        rows.append(Row(f"tcp-{sid}", f"PUSH/PULL tcp {label}", "thr", "msgs/s (MB/s)",
                        "higher", {"transport": "tcp", "size": size, "count": count}))
    rows.append(Row("ipc-64", "PUSH/PULL ipc 64 B", "thr", "msgs/s (MB/s)", "higher",
                    {"transport": "ipc", "size": 64, "count": 1_500_000}))
    rows.append(Row("inproc-64", "PUSH/PULL inproc 64 B", "thr", "msgs/s (MB/s)", "higher",
                    {"transport": "inproc", "size": 64, "count": 1_500_000}))
    # ws:// (ZWS 2.0): pyzmq's wheels are built without it, so purezmq alone ("-").
    for size, count, label, sid in ((64, 300_000, "64 B", "64"), (KiB, 200_000, "1 KiB", "1k")):
        rows.append(Row(f"ws-{sid}", f"PUSH/PULL ws {label}", "thr", "msgs/s (MB/s)", "higher",
                        {"transport": "ws", "size": size, "count": count,
                         "libs": ("purezmq",)}))
    rows.append(Row("lat-tcp-1", "REQ/REP tcp round trip 1 B", "lat", "us", "lower",
                    {"transport": "tcp", "size": 1, "count": 20_000}))
    rows.append(Row("lat-tcp-1-same", "REQ/REP tcp round trip 1 B, both on one CPU", "lat",
                    "us", "lower", {"transport": "tcp", "size": 1, "count": 20_000,
                                    "placement": "same"}))
    if len(os.sched_getaffinity(0)) >= 2:
        rows.append(Row("lat-tcp-1-split", "REQ/REP tcp round trip 1 B, on two CPUs", "lat",
                        "us", "lower", {"transport": "tcp", "size": 1, "count": 20_000,
                                        "placement": "split"}))
    rows.append(Row("alat-tcp-64", "asyncio REQ/REP tcp round trip 64 B (purezmq: "
                    "io_on_loop=False)", "alat", "us", "lower", {"size": 64, "count": 10_000}))
    for n in (1, 4, 16):
        rows.append(Row(f"fanout-{n}", f"PUB -> {n} SUB tcp 64 B", "fan",
                        "delivered msgs/s", "higher", {"subs": n, "size": 64}))
    rows.append(Row("fanout-16-drop", "PUB -> 16 SUB tcp 64 B, PUB drops at HWM", "fan",
                    "delivered msgs/s", "higher", {"subs": 16, "size": 64, "nodrop": False}))
    rows.append(Row("curve-64", "CURVE PUSH/PULL tcp 64 B", "thr", "msgs/s (MB/s)", "higher",
                    {"transport": "tcp", "size": 64, "count": 400_000, "curve": True}))
    rows.append(Row("curve-64k", "CURVE PUSH/PULL tcp 64 KiB", "thr", "msgs/s (MB/s)",
                    "higher", {"transport": "tcp", "size": 64 * KiB, "count": 20_000,
                               "curve": True}))
    for rid, title, mech, zap in (
            ("hs-null", "NULL handshakes", "NULL", False),
            ("hs-curve", "CURVE handshakes, no ZAP", "CURVE", False),
            ("hs-curve-zap", "CURVE handshakes with ZAP (ThreadAuthenticator)", "CURVE", True)):
        rows.append(Row(rid, f"{title} (connect, 1 round trip, close; {workloads.HS_WINDOW} "
                        "in flight)", "hs", "conn/s", "higher",
                        {"mech": mech, "zap": zap, "count": 2_000}))
    rows.append(Row("serve-40x200", "ROUTER serving 40 DEALERs x 200 requests (tcp, "
                    "4 client processes)", "serve", "ms to serve all", "lower",
                    {"clients": 40, "requests": 200, "procs": 4}))
    rows.append(Row("proxy-64", "PUSH -> proxy (STREAMER) -> PULL tcp 64 B", "proxy",
                    "msgs/s (MB/s)", "higher", {"size": 64, "count": 1_000_000}))
    rows.append(Row("subs-100k", "XPUB matching 100,000 subscriptions, 42 B", "subs",
                    "delivered msgs/s", "higher", {"subs": 100_000}))
    rows.append(Row(f"router-{cfg['peers']}",
                    f"ROUTER + {cfg['peers']:,} idle DEALERs (tcp)", "mem", "RSS MB",
                    "lower", {}))
    rows.append(Row("import", "`import` in a fresh interpreter", "import", "ms", "lower",
                    {"starts": 3 if cfg["scale"] < 1 else 7}))
    return rows


# -- reporting ----------------------------------------------------------------------------
def _fmt(row: Row, v: float) -> str:
    if row.kind in ("thr", "fan", "proxy", "subs", "hs"):
        return f"{v:,.0f}"
    return f"{v:,.1f}"


def cell(row: Row, runs: list[dict]) -> str:
    if not runs:
        return "-"
    failed = sum(1 for r in runs if "error" in r)
    if failed == len(runs):
        first = next(r["error"] for r in runs if "error" in r)
        return f"FAIL ({first})".replace("|", "/")
    value = statistics.median(r["value"] for r in runs if "error" not in r)
    text = _fmt(row, value)
    if row.kind in ("thr", "proxy"):
        text += f" ({statistics.median(r['mbps'] for r in runs if 'error' not in r):,.1f})"
    if row.kind == "mem":
        per = statistics.median(r["per_peer_kb"] for r in runs if "error" not in r)
        text += f" ({per:.1f} KB/peer)"
    if any(r.get("capped") for r in runs if "error" not in r):
        text += " †"
    if any(r.get("other_load", 0) > CONTENDED for r in runs if "error" not in r):
        text += " ‡"
    if failed:
        text += f" [{failed}/{len(runs)} failed]"
    return text


def cpu_cell(results: dict) -> str:
    """Median CPU seconds per million messages of each library, "pyzmq / purezmq"."""
    out = []
    for lib in LIBS:
        vals = [r["cpu_m"] for r in results.get(lib, [])
                if "error" not in r and r.get("cpu_m") is not None]
        out.append(f"{statistics.median(vals):.1f}" if vals else "-")
    return "-" if out == ["-", "-"] else " / ".join(out)


def ratio(row: Row, results: dict) -> str:
    vals = {}
    for lib in LIBS:
        ok = [r["value"] for r in results.get(lib, []) if "error" not in r]
        if not ok:
            return "-"
        vals[lib] = statistics.median(ok)
    if not vals["pyzmq"]:
        return "-"
    return f"{vals['purezmq'] / vals['pyzmq']:.2f}"


def table(rows: list[Row], results: dict) -> str:
    lines = [
        "| Benchmark | Unit | pyzmq | purezmq | purezmq/pyzmq | Better "
        "| CPU s per 10^6 msgs, pyzmq / purezmq |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for row in rows:
        res = results.get(row.id, {})
        lines.append(
            f"| {row.title} | {row.unit} | {cell(row, res.get('pyzmq', []))} | "
            f"{cell(row, res.get('purezmq', []))} | {ratio(row, res)} | {row.better} "
            f"| {cpu_cell(res)} |"
        )
    return "\n".join(lines)


def runs_table(rows: list[Row], results: dict) -> str:
    lines = ["| Benchmark | Library | Runs (in order) | Other load (CPUs) | Extra |",
             "|---|---|---|---|---|"]
    for row in rows:
        for lib in LIBS:
            runs = results.get(row.id, {}).get(lib, [])
            vals = ", ".join(
                "FAIL" if "error" in r else _fmt(row, r["value"])
                + ("†" if r.get("capped") else "")
                + ("‡" if r.get("other_load", 0) > CONTENDED else "")
                for r in runs
            )
            loads = ", ".join(f"{r.get('other_load', 0):.2f}" for r in runs)
            extra = ""
            ok = [r for r in runs if "error" not in r]
            if row.kind == "fan" and ok:
                extra = "delivered {:.0f}% of sent, publisher {:,.0f} msgs/s".format(
                    statistics.median(r["delivered_pct"] for r in ok),
                    statistics.median(r["pub_rate"] for r in ok))
            elif row.kind == "mem" and ok:
                extra = "baseline {:.1f} MB, all connected in {:.1f} s".format(
                    statistics.median(r["base_mb"] for r in ok),
                    statistics.median(r["connect_s"] for r in ok))
            elif row.kind == "subs" and ok:
                extra = "100,000 subscriptions reached the XPUB in {:.1f} s".format(
                    statistics.median(r["subscribe_s"] for r in ok))
            elif row.kind in ("thr", "lat", "alat", "proxy", "hs") and ok:
                extra = "messages timed: " + ", ".join(f"{r['n']:,}" for r in ok)
            errors = sorted({r["error"] for r in runs if "error" in r})
            if errors:
                extra = (extra + "; " if extra else "") + "; ".join(errors)
            lines.append(f"| {row.title} | {lib} | {vals} | {loads} | {extra.replace('|', '/')} |")
    return "\n".join(lines)


def machine_info() -> dict:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        rev = rev + (" + uncommitted changes in src/" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        rev = "?"
    return {"nproc": nproc, "cpu": model, "mem": mem, "kernel": platform.release(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "git": rev}


def snapshot_src() -> str:
    """A private copy of the checkout's ``src/`` (removed at exit)."""
    import atexit
    import shutil
    import tempfile

    dest = Path(tempfile.mkdtemp(prefix="purezmq-bench-"))
    shutil.copytree(ROOT / "src", dest / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    atexit.register(shutil.rmtree, dest, True)
    return str(dest / "src")


def export_rev(rev: str) -> tuple[str, str]:
    """``git archive`` the checkout's ``src/`` at ``rev`` into a temporary directory."""
    import tempfile

    try:
        full = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev],
                              capture_output=True, text=True, timeout=10, check=True)
        dest = Path(tempfile.mkdtemp(prefix="purezmq-bench-"))
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"],
                                 capture_output=True, timeout=60, check=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, timeout=60,
                       check=True)
    except (OSError, subprocess.SubprocessError) as e:
        raise SystemExit(f"bench/run.py: cannot export --rev {rev}: {e}") from None
    import atexit
    import shutil

    atexit.register(shutil.rmtree, dest, True)
    short = full.stdout.strip()
    return str(dest / "src"), f"git {short} (exported, clean)"


def lib_versions() -> dict:
    out = {}
    for lib in LIBS:
        with Workers() as ws:
            try:
                out[lib] = ws.start(f"{lib} info", workloads.lib_info, MODULES[lib]).expect(
                    "result", 30)
            except BenchError as e:
                out[lib] = {"version": f"unavailable ({e})", "zmq_version": "?"}
    return out


def report(rows, results, cfg, info, versions, command, started, elapsed, waited,
           src_label="") -> str:
    py, pz = versions["pyzmq"], versions["purezmq"]
    where = Path(pz.get("file", "")).resolve().parent.parent
    source = src_label or (f"git {info['git']}" if where == (ROOT / "src").resolve()
                           else f"from {where}")
    loads = [r.get("other_load", 0.0) for res in results.values() for runs in res.values()
             for r in runs]
    busy = sum(1 for x in loads if x > CONTENDED)
    load_line = (f"median {statistics.median(loads):.2f} CPU, max {max(loads):.2f} CPU; "
                 f"{busy} of {len(loads)} runs above {CONTENDED} CPU (‡)" if loads else "-")
    fan = ("XPUB_NODROP=1: the PUB blocks at the high-water mark instead of dropping, so "
           "every message reaches every SUB and the publisher is paced by the slowest one"
           if cfg["nodrop"] else
           "a plain PUB with the default HWM: a slow SUB loses messages (`--fanout-drop`)")
    fan += ("; the row \"PUB drops at HWM\" always uses a plain PUB with the default HWM "
            "(no XPUB_NODROP): a slow SUB loses messages, and the value counts the messages "
            "delivered")
    return f"""# purezmq vs pyzmq benchmarks

Generated by `bench/run.py` (do not edit by hand; re-run it).

- Command: `{command}`
- Date: {started} (total {elapsed:.0f} s, of which {waited:.0f} s waiting for a quiet machine)
- Machine: {info['nproc']} CPUs (nproc), {info['cpu']}, {info['mem']} RAM, Linux {info['kernel']}
- Python: {info['python']}
- pyzmq {py['version']} (libzmq {py['zmq_version']}); purezmq {pz['version']} ({source})
- Runs: {cfg['runs']} per library, alternating pyzmq/purezmq (the first of each round
  alternates too); the table shows medians.
- Other load on the machine during the runs: {load_line}

{table(rows, results)}

Ratios are purezmq/pyzmq: above 1 purezmq is ahead on "higher" rows and behind on "lower"
rows. Throughput cells read msgs/s (MB/s).
† = at least one run hit the {cfg['cap']:.1f} s time cap before its full message count
(its rate is over the messages received within the cap).
‡ = during at least one run, other processes on the machine used more than {CONTENDED} CPU
(from /proc/stat, minus the benchmark's own processes): that run is noisier, and purezmq,
which needs more CPU per message, loses more to it than pyzmq.

CPU s per 10^6 msgs: CPU seconds (user + system, every thread) that the benchmark's
processes used over the timed part, per million messages (latency rows: per million round
trips; handshakes: not measured), summed over the processes: what the spinning, the
batching and the I/O threads cost, beside the speed they buy.

More side-by-side results: `bench/RESULTS_asyncio.md` (`python bench/bench_asyncio.py`:
purezmq.asyncio vs zmq.asyncio, both of purezmq's modes, default loop and uvloop). The ws
rows are purezmq's alone: pyzmq's wheels have no ws transport (cells "-").

## PyPy

`bench/run.py` runs under whichever interpreter starts it; `bench/RESULTS_pypy.md` has four
rows under Debian's PyPy 7.3.11 (Python 3.9) and CPython 3.11, two rounds each
(`pypy3-venv/bin/python bench/run.py --quick --only tcp-64,tcp-1k,inproc-64,lat-tcp-1
--runs 3 --no-write`, and the same with CPython). purezmq on PyPy against purezmq on
CPython: inproc 64 B 1.46-1.64x the messages/s, tcp 64 B 0.70-1.05x, tcp 1 KiB 0.77-0.83x,
REQ/REP round trip 2.7-4.5x the time (117 us). purezmq against pyzmq, both on PyPy (pyzmq's
CFFI backend): tcp 64 B 0.88-1.29x, 1 KiB 0.93-1.65x, inproc 2.54-2.66x, round trip
0.96-1.47x pyzmq's time. Measured on the shared VM under load: ranges, not digits.

## How it is measured

- Throughput (PUSH/PULL): libzmq's `local_thr`/`remote_thr` method. The PULL side binds,
  the PUSH side connects, in separate processes (inproc: two threads of one process). The
  receiver times from the first to the last of a fixed count of messages (about 1.5-2.5 s
  for pyzmq), stopping early at the time cap. MB/s = 10^6 bytes of payload per second.
  HWM is the default 1000, lowered for big messages to keep about 64 MiB queued per side
  (1 MiB: 64). Both libraries send with `send(bytes)` and receive with `recv()` (copies).
- Latency: REQ (connect) and REP (bind) in two processes over tcp, 1-byte messages, a
  warm-up, then a fixed count of round trips; the value is the mean round-trip time
  (libzmq's `local_lat` prints half of it as "latency"). "Both on one CPU" / "on two CPUs":
  each process pins itself with `os.sched_setaffinity` before it creates its Context (so
  its I/O threads inherit the placement) to the same CPU / to two different CPUs; the
  unpinned row lets the kernel place them. The asyncio row runs both ends with the
  library's asyncio API on asyncio's default loop (purezmq: `Context(io_on_loop=False)`,
  the connections on its I/O thread), 64 B messages.
- CURVE: the throughput rows with a CURVE server (PULL) and client (PUSH), fresh keys.
- Handshakes: a ROUTER echoes; a client process opens connections 16 at a time, a DEALER
  each that connects, sends one message, waits for the echo and closes. NULL, CURVE
  without ZAP (any client knowing the server's key), and CURVE with the library's own
  `ThreadAuthenticator` (`CURVE_ALLOW_ANY`), which adds a ZAP round trip per handshake.
- Serving: one ROUTER binds and echoes; 40 DEALERs in 4 client processes each send 200
  requests of 64 B one after the other (the next when the reply is in). Value: the time
  the ROUTER takes from the first request to its 8,000th reply.
- `import`: in a fresh interpreter, the time `import zmq` / `import purezmq` takes (median
  of several starts, after one that may write byte-code caches).
- Fan-out: one PUB process binds, N SUB processes connect and subscribe to everything. The
  PUB says hello until every SUB has heard it, then sends 64 B messages for
  {cfg['fan_duration']:.1f} s with {fan}. Value: messages delivered to all SUBs together,
  divided by the time from the first delivery to the last.
- Memory: one ROUTER process binds; DEALER processes (one Context with up to 2,500
  sockets each) connect, each says hello once, then idles. Value: VmRSS of the ROUTER
  process once every hello has arrived; per peer: growth over the RSS after bind.
- Every recv has a timeout, every run a deadline; a failed run is shown as FAIL.

## Every run

{runs_table(rows, results)}
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs (about 1 s each)")
    ap.add_argument("--only", default="", help="comma-separated benchmark ids or substrings "
                    "(tcp-64, tcp-1k, tcp-64k, tcp-1m, ipc-64, inproc-64, ws-64, ws-1k, lat, "
                    "alat, fanout, proxy, subs, router, curve, hs, serve, import; an exact id "
                    "selects only that row, any other word every row whose id contains it)")
    ap.add_argument("--runs", type=int, default=3, help="runs per library (default 3)")
    ap.add_argument("--peers", type=int, default=0,
                    help="DEALER peers for the memory row (default 10,000; --quick: 1,000)")
    ap.add_argument("--fanout-drop", action="store_true",
                    help="fan-out with a plain dropping PUB instead of XPUB_NODROP")
    ap.add_argument("--quiet-wait", type=float, default=10.0, metavar="S",
                    help="before each run, wait up to S s for other processes to go idle "
                         "(default 10; 0 disables)")
    ap.add_argument("--quiet-budget", type=float, default=180.0, metavar="S",
                    help="total seconds of such waiting per invocation (default 180)")
    ap.add_argument("--rev", default="", help="benchmark purezmq as of this git revision of "
                    "the checkout (exported with git archive to a temporary directory)")
    ap.add_argument("--src", default="", help="benchmark the purezmq package under this "
                    "directory instead of this checkout's src/ (for A/B comparisons)")
    ap.add_argument("--output", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--no-write", action="store_true", help="print only, no RESULTS.md")
    args = ap.parse_args(argv)

    cfg = {
        "runs": max(1, args.runs),
        "cap": 1.0 if args.quick else 3.0,
        "scale": 0.25 if args.quick else 1.0,
        "fan_duration": 0.7 if args.quick else 2.0,
        "nodrop": not args.fanout_drop,
        "peers": args.peers or (1_000 if args.quick else 10_000),
        "src": "",
    }
    info = machine_info()
    src_label = ""
    if args.rev:
        if args.src:
            ap.error("give --rev or --src, not both")
        args.src, src_label = export_rev(args.rev)
    if not args.src:
        # Others may edit src/ while this runs: benchmark a copy taken now, whole.
        args.src = snapshot_src()
        src_label = f"git {info['git']}, copied at start"
    if args.src:
        cfg["src"] = str(Path(args.src).resolve())
        sys.path.insert(0, cfg["src"])
    rows = make_rows(cfg)
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        ids = {r.id for r in rows}
        rows = [r for r in rows
                if any(w == r.id if w in ids else w in r.id for w in wanted)]
        if not rows:
            ap.error(f"no benchmark matches {args.only!r}")
    command = "python " + " ".join(shlex.quote(a) for a in
                                   [os.path.relpath(__file__, ROOT), *sys.argv[1:]])
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t_start = time.monotonic()
    versions = lib_versions()
    results: dict = {}
    quiet = QuietWaiter(args.quiet_wait, args.quiet_budget)
    for row in rows:
        runner = RUNNERS[row.kind]
        res = results.setdefault(row.id, {lib: [] for lib in LIBS})
        for i in range(cfg["runs"]):
            order = LIBS if i % 2 == 0 else LIBS[::-1]
            for lib in order:
                if lib not in row.params.get("libs", LIBS):
                    continue  # e.g. ws: pyzmq has no such transport
                quiet()
                snap = _cpu_snapshot()
                try:
                    r = runner(lib, row, cfg)
                    shown = _fmt(row, r["value"]) + (" (capped)" if r.get("capped") else "")
                except Exception as e:  # noqa: BLE001 - a failed run is a result
                    r = {"error": str(e) or type(e).__name__}
                    shown = "FAIL: " + r["error"]
                end = _cpu_snapshot()
                r["other_load"] = other_load(snap, end)
                res[lib].append(r)
                print(f"[{row.id}] run {i + 1}/{cfg['runs']} {lib:8s} {shown} {row.unit} "
                      f"({end[0] - snap[0]:.1f} s, other load {r['other_load']:.2f} CPU)",
                      file=sys.stderr, flush=True)
    elapsed = time.monotonic() - t_start
    print()
    print(table(rows, results))
    if not args.no_write:
        text = report(rows, results, cfg, info, versions, command, started, elapsed,
                      quiet.waited, src_label)
        Path(args.output).write_text(text)
        print(f"\nwrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
