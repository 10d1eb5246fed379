#!/usr/bin/env python3
"""Network-fault scenarios between two private network namespaces (needs root, ``ip``).

    sudo python scripts/reliability/netfaults.py              # everything, ~2-3 minutes
    sudo python scripts/reliability/netfaults.py --quick      # the sizes the test suite uses
    sudo python scripts/reliability/netfaults.py --only partition --peer pyzmq

A purezmq process in namespace A talks to a pyzmq and/or purezmq process in namespace B
over a link that loses, delays, reorders or drops everything (see
``tests/reliability/netlab.py``: ``tc netem`` on a veth pair when the kernel has it, else a
userspace wire between two TUN devices).  Scenarios:

  loss        PUSH -> PULL, 1 kB messages, 1%, 5% and 10% loss: all arrive, in order
  reorder     REQ/REP round trips over 20 ms +- 10 ms delay, 25% reordering, 1% loss
  partition   DEALER with heartbeats -> ROUTER; the link goes silent (or A's interface goes
              down) for 3, 10 and 30 s, with and without CONNECT_TIMEOUT: the monitor reports
              DISCONNECTED within the heartbeat timeout, and traffic resumes after healing

The namespaces are removed at the end (also on Ctrl-C).  Exit status 1 if a check failed.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "reliability"))
try:
    import purezmq  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "src"))

import netlab  # noqa: E402
import netscenarios as sc  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peer", choices=["pyzmq", "purezmq", "both"], default="both")
    ap.add_argument("--only", choices=["loss", "reorder", "partition"], action="append")
    ap.add_argument("--quick", action="store_true", help="small sizes, short partitions")
    ap.add_argument("--backend", choices=["netem", "tun"], default=None)
    args = ap.parse_args()
    why = netlab.unavailable()
    if why:
        print(f"cannot run: {why}")
        return 2
    libs = ["pyzmq", "purezmq"] if args.peer == "both" else [args.peer]
    only = set(args.only or ["loss", "reorder", "partition"])
    plan = []
    for lib in libs:
        if "loss" in only:
            for loss in [0.05] if args.quick else [0.01, 0.05, 0.10]:
                count = 2000 if args.quick else 10000
                plan.append((f"loss {loss:.0%} [{lib}]", sc.loss_scenario, lib,
                             dict(count=count, loss=loss)))
        if "reorder" in only:
            plan.append((f"delay+reorder [{lib}]", sc.reorder_scenario, lib,
                         dict(count=100 if args.quick else 500)))
        if "partition" in only:
            for down, how, cto in ([(4, "silent", 500)] if args.quick else
                                   [(3, "silent", 0), (10, "silent", 0), (30, "silent", 0),
                                    (10, "silent", 500), (30, "silent", 500),
                                    (5, "linkdown", 500)]):
                plan.append((f"partition {how} {down}s CONNECT_TIMEOUT={cto} [{lib}]",
                             sc.partition_scenario, lib,
                             dict(down=float(down), how=how, connect_timeout=cto)))
    failures = 0
    port = 6000
    with netlab.NetLab(args.backend) as lab:
        print(f"lab: {lab.a} ({lab.addr_a}) <-> {lab.b} ({lab.addr_b}), backend {lab.backend}",
              flush=True)
        for name, fn, lib, kw in plan:
            port += 1
            start = time.monotonic()
            try:
                result = fn(lab, lib, port, **kw)
                if fn is sc.partition_scenario:
                    assert result["detect_ms"] < sc.HB_TIMEOUT + sc.HB_IVL + 1000, result
                print(f"PASS {name}: {result} ({time.monotonic() - start:.1f} s)", flush=True)
            except Exception as e:
                failures += 1
                print(f"FAIL {name}: {e!r}", flush=True)
                traceback.print_exc()
    print("OK" if not failures else f"FAILED ({failures})", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
