"""A real Jupyter kernel (ipykernel) and client (jupyter_client), both on purezmq.

Nothing here patches either application: the client side (``_jupyter_driver.py``) runs as
its own process with ``PUREZMQ_AS_ZMQ=1`` (so its ``import zmq`` is purezmq), and starts
the kernel from a kernelspec in a temporary ``JUPYTER_PATH`` whose ``env`` sets the same
switch.  Both processes report which ``zmq`` they imported, and the test checks it is
purezmq's.  Each scenario is one driver process (one kernel), bounded by a timeout; it
reports one JSON line per step, and each test below checks one step.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from apphelp import run_driver

pytest.importorskip("ipykernel")
pytest.importorskip("jupyter_client")

DRIVER = Path(__file__).with_name("_jupyter_driver.py")
KERNEL = "purezmq-test"
SCENARIO_TIMEOUT = 90  # seconds for one driver process (one kernel), however slow the box
GRACE = 2.5  # jupyter_client's wait for a kernel to exit by itself before it signals it

pytestmark = pytest.mark.timeout(SCENARIO_TIMEOUT + 30)


@pytest.fixture(scope="module")
def jupyter_env(tmp_path_factory) -> dict:
    """An environment with the switch on and a kernelspec that turns it on in the kernel;
    Jupyter's and IPython's directories are private to the test."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "data" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (purezmq)",
        "language": "python",
        "env": {"PUREZMQ_AS_ZMQ": "1"},
    }))
    env = dict(os.environ)
    env.update(
        PUREZMQ_AS_ZMQ="1",
        JUPYTER_PATH=str(root / "data"),
        JUPYTER_DATA_DIR=str(root / "data"),
        JUPYTER_CONFIG_DIR=str(root / "config"),
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
        IPYTHONDIR=str(root / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


_results: dict[str, dict] = {}


def scenario(name: str, env: dict) -> dict:
    """Run the driver's scenario once (cached for the module): {step: fields}."""
    if name not in _results:
        _results[name] = run_driver([str(DRIVER), name, KERNEL], env, SCENARIO_TIMEOUT)
    return _results[name]


def step(name: str, env: dict, which: str) -> dict:
    steps = scenario(name, env)
    assert which in steps, (
        f"scenario {name!r} never reported {which!r}; crash: "
        f"{steps.get('crash', {}).get('traceback')}\nstderr: {steps['_stderr']}"
    )
    return steps[which]


def _is_purezmq(path: str) -> bool:
    return f"{os.sep}purezmq{os.sep}" in path


# -- the blocking client: one kernel through everything a notebook does --------------------
def test_both_processes_run_purezmq(jupyter_env):
    client = step("blocking", jupyter_env, "client-zmq")
    assert _is_purezmq(client["file"]) and client["socket_module"].startswith("purezmq.")
    kernel = step("blocking", jupyter_env, "execute")
    assert _is_purezmq(kernel["stdout"].strip()), kernel  # printed by the kernel


def test_execute_with_stdout_and_stderr(jupyter_env):
    r = step("blocking", jupyter_env, "execute")
    assert r["status"] == "ok"
    assert r["stderr"] == "to stderr\n"


def test_errors_come_back(jupyter_env):
    r = step("blocking", jupyter_env, "error")
    assert r == {"status": "error", "ename": "ZeroDivisionError",
                 "iopub_errors": ["ZeroDivisionError"]}


def test_input_over_the_stdin_channel(jupyter_env):
    r = step("blocking", jupyter_env, "input")
    assert r == {"status": "ok", "prompts": ["who? "], "stdout": "hello purezmq\n"}


def test_comm_with_binary_buffers(jupyter_env):
    r = step("blocking", jupyter_env, "comm")
    assert r["data"] == {"got": {"n": 3}, "sizes": [1024, 0, 8000]}
    assert r["match"] is True
    assert r["types"] == ["memoryview"]  # jupyter_client took memoryview(frame)


def test_iopub_burst_arrives_whole_and_in_order(jupyter_env):
    r = step("blocking", jupyter_env, "burst")
    assert r == {"status": "ok", "count": 2000, "in_order": True}


def test_interrupt_stops_a_sleeping_cell(jupyter_env):
    r = step("blocking", jupyter_env, "interrupt")
    assert r["status"] == "error" and r["ename"] == "KeyboardInterrupt"
    assert r["seconds"] < 10  # not the 30 s of the sleep


def test_restart_the_old_kernel_exits_by_itself(jupyter_env):
    r = step("blocking", jupyter_env, "restart")
    assert r["killed"] is False and r["returncode"] == 0, r
    assert r["seconds"] < GRACE, r
    assert step("blocking", jupyter_env, "after-restart") == {"status": "ok", "stdout": "42\n"}


def test_shutdown_the_kernel_exits_by_itself(jupyter_env):
    r = step("blocking", jupyter_env, "shutdown")
    assert r["killed"] is False and r["returncode"] == 0, r
    assert r["seconds"] < GRACE, r


# -- an asyncio client whose channels run in threads, each with its own loop ----------------
def test_async_clients_in_threads_share_the_managers_asyncio_context(jupyter_env):
    assert _is_purezmq(step("async_threads", jupyter_env, "client-zmq")["file"])
    assert step("async_threads", jupyter_env, "context")["cls"] == "purezmq.asyncio.Context"
    results = step("async_threads", jupyter_env, "threads")["results"]
    for tag in "ab":
        r = results[tag]
        assert r.get("status") == "ok", r
        printed = r["stdout"].split()
        assert printed[:2] == ["from", tag] and _is_purezmq(printed[2])
    r = step("async_threads", jupyter_env, "shutdown")
    assert r["returncode"] == 0 and r["seconds"] < GRACE, r


# -- ZMQStream clients ---------------------------------------------------------------------
def test_threaded_client_on_zmqstreams(jupyter_env):
    assert step("zmqstream", jupyter_env, "threaded-ready") == {"ok": True}
    r = step("zmqstream", jupyter_env, "threaded-execute")
    assert r == {"stdout": "via threaded client\n", "idle": True}
    r = step("zmqstream", jupyter_env, "threaded-stop")
    assert r["alive"] is False and r["seconds"] < 5, r


def test_zmqstream_on_the_iopub_channel(jupyter_env):
    r = step("zmqstream", jupyter_env, "zmqstream")
    assert r["stdout"] == "via ZMQStream\n"
    r = step("zmqstream", jupyter_env, "shutdown")
    assert r["killed"] is False and r["returncode"] == 0 and r["seconds"] < GRACE, r


# -- nbclient: a notebook executed the way nbconvert --execute does it -----------------------
def test_nbclient_executes_a_notebook_twice(jupyter_env):
    pytest.importorskip("nbclient")
    for run in (1, 2):
        outputs = step("notebook", jupyter_env, f"notebook-{run}")["outputs"]
        assert len(outputs) == 3, outputs
        assert _is_purezmq(outputs[0].strip()), outputs
        assert outputs[1:] == ["45", "to stderr\n"]
