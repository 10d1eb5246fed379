"""The client side of tests/apps/test_ipyparallel.py: an ipyparallel cluster (controller,
its schedulers, two engines and their nannies) started, used and stopped from a process
whose ``import zmq`` is purezmq; every process of the cluster inherits the switch.

    python _ipyparallel_driver.py PROFILE_DIR

prints one JSON line per step, as ``_jupyter_driver.py`` does.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback


def report(step: str, **fields) -> None:
    print(json.dumps({"step": step, **fields}, default=repr), flush=True)


def libzmq_mapped(pid: int) -> bool:
    """Whether a compiled ZeroMQ (libzmq, pyzmq's extension) is loaded in process ``pid``."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            maps = f.read()
    except OSError:
        return False
    return "libzmq" in maps or "/zmq/backend/cython/" in maps


def main() -> None:
    import psutil
    import zmq

    report("client-zmq", file=zmq.__file__)
    import ipyparallel as ipp

    t0 = time.monotonic()
    cluster = ipp.Cluster(
        n=2, profile_dir=sys.argv[1], controller_ip="127.0.0.1", engine_timeout=60,
        log_level=30,
    )
    rc = cluster.start_and_connect_sync(activate=False)
    rc.wait_for_engines(2, timeout=60)
    report("started", seconds=round(time.monotonic() - t0, 3), engines=sorted(rc.ids))

    dv = rc[:]
    report("engine-zmq", files=dv.apply_sync(lambda: __import__("zmq").__file__))
    report("apply", result=dv.apply_sync(lambda a, b: a + b, 2, 3))
    lview = rc.load_balanced_view()
    report("map", result=lview.map_sync(lambda x: x * x, range(20)))
    ar = lview.apply_async(sum, range(100))
    report("apply-async", result=ar.get(timeout=30))
    dv.scatter("chunk", list(range(8)), block=True)
    report("scatter-gather", result=dv.gather("chunk", block=True))

    procs = psutil.Process().children(recursive=True)
    report("processes", count=len(procs),
           kinds=sorted({" ".join(p.cmdline()[1:3]) for p in procs}),
           compiled_zmq=[p.pid for p in procs if libzmq_mapped(p.pid)],
           self_compiled_zmq=libzmq_mapped(os.getpid()))

    t1 = time.monotonic()
    cluster.stop_cluster_sync()
    rc.close()
    stopped = time.monotonic() - t1
    gone, alive = psutil.wait_procs(procs, timeout=30)
    report("stop", seconds=round(stopped, 3), all_exited_after=round(time.monotonic() - t1, 3),
           alive=[" ".join(p.cmdline()[1:3]) for p in alive if p.is_running()])
    for p in alive:  # never leave a cluster behind, whatever the test says
        p.kill()


if __name__ == "__main__":
    t = time.monotonic()
    try:
        main()
    except BaseException:
        report("crash", traceback=traceback.format_exc())
        raise
    report("end", seconds=round(time.monotonic() - t, 3))
