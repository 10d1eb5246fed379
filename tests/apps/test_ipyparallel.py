"""A parallel-computing framework on purezmq: an ipyparallel cluster (a controller with its
ZMQStream-driven hub and its schedulers, which are ZeroMQ devices in processes of their
own; two engines with their nannies), loopback only.

The client (``_ipyparallel_driver.py``) runs with ``PUREZMQ_AS_ZMQ=1``, which every process
of the cluster inherits; the test checks that no process of the cluster loaded a compiled
ZeroMQ.  It starts the cluster, runs apply/map/scatter/gather, stops it and checks that
every process exits (on purezmq this hung before ZMQStream registered its socket with the
IOLoop: ``IOLoop.close(all_fds=True)`` left it open and ``Context.term()`` waited forever).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from apphelp import run_driver

pytest.importorskip("ipyparallel")
pytest.importorskip("psutil")

DRIVER = Path(__file__).with_name("_ipyparallel_driver.py")
TIMEOUT = 100  # one cluster's whole life, however slow the box


@pytest.fixture(scope="module")
def steps(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("ipyparallel")
    env = dict(os.environ)
    env.update(
        PUREZMQ_AS_ZMQ="1",
        IPYTHONDIR=str(root / "ipython"),
        JUPYTER_CONFIG_DIR=str(root / "jupyter"),
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONUNBUFFERED="1",
    )
    return run_driver([str(DRIVER), str(root / "profile")], env, TIMEOUT)


def step(steps: dict, which: str) -> dict:
    assert which in steps, (
        f"the driver never reported {which!r}; crash: "
        f"{steps.get('crash', {}).get('traceback')}\nstderr: {steps['_stderr']}"
    )
    return steps[which]


def _is_purezmq(path: str) -> bool:
    return f"{os.sep}purezmq{os.sep}" in path


@pytest.mark.timeout(TIMEOUT + 30)
def test_cluster_runs_on_purezmq_in_every_process(steps):
    assert _is_purezmq(step(steps, "client-zmq")["file"])
    assert step(steps, "started")["engines"] == [0, 1]
    files = step(steps, "engine-zmq")["files"]
    assert len(files) == 2 and all(_is_purezmq(f) for f in files), files
    procs = step(steps, "processes")
    assert procs["count"] >= 5, procs  # controller (+ schedulers), 2 engines, 2 nannies
    assert procs["compiled_zmq"] == [] and procs["self_compiled_zmq"] is False, procs


@pytest.mark.timeout(TIMEOUT + 30)
def test_apply_map_scatter_gather(steps):
    assert step(steps, "apply")["result"] == [5, 5]
    assert step(steps, "map")["result"] == [x * x for x in range(20)]
    assert step(steps, "apply-async")["result"] == sum(range(100))
    assert step(steps, "scatter-gather")["result"] == list(range(8))


@pytest.mark.timeout(TIMEOUT + 30)
def test_stopping_the_cluster_ends_every_process(steps):
    r = step(steps, "stop")
    assert r["alive"] == [], r
    assert "end" in steps, steps.get("crash")
