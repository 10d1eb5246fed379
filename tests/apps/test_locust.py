"""locust's distributed mode on purezmq: a master and two workers, ``zmq`` = purezmq in each.

locust (https://locust.io) monkey-patches everything with gevent, then talks between its
master and workers over ``zmq.green`` ROUTER / DEALER sockets (heartbeats, spawn orders,
stats reports, quit).  Here each process runs through ``purezmq run --`` (one worker
through the ``PUREZMQ_AS_ZMQ=1`` environment switch instead); half the users fire request
events without touching the network, half get a page from the test's own HTTP server on
127.0.0.1 (through gevent's patched sockets, next to purezmq's), and the test checks
that every process exits 0, that the master's statistics hold the workers' requests, and,
through a report each process writes when it loads the locustfile, that its ``zmq``
really was purezmq.
"""

from __future__ import annotations

import csv
import http.server
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

# Not imported here: importing locust monkey-patches the importing process with gevent.
if importlib.util.find_spec("locust") is None or importlib.util.find_spec("gevent") is None:
    pytest.skip("needs locust (and gevent)", allow_module_level=True)

LOCUSTFILE = '''
import json
import os
import sys

from locust import HttpUser, User, constant, task

report_dir = os.environ.get("PUREZMQ_LOCUST_REPORT")
if report_dir:
    import purezmq
    import purezmq.green
    import zmq
    import zmq.green

    with open(os.path.join(report_dir, "%d.json" % os.getpid()), "w") as f:
        json.dump({
            "argv": sys.argv[1:],
            "zmq_file": zmq.__file__,
            "zmq_is_purezmq": zmq.Socket is purezmq.Socket and zmq.Context is purezmq.Context,
            "green_is_purezmq": zmq.green.Context is purezmq.green.Context,
            "rpc_context": sys.modules["locust.rpc.zmqrpc"].zmq.Context.__module__,
        }, f)


class Web(HttpUser):
    """A user of the test's own HTTP server on 127.0.0.1 (locust's --host)."""

    wait_time = constant(0.02)

    @task
    def hello(self):
        self.client.get("/hello")


class Dummy(User):
    """A user whose task fires a request event and touches no network."""

    wait_time = constant(0.01)

    @task
    def work(self):
        self.environment.events.request.fire(
            request_type="DUMMY", name="noop", response_time=1.0, response_length=10,
            exception=None, context={},
        )
'''


class _Hello(http.server.BaseHTTPRequestHandler):
    count = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).count += 1
        body = b"hello"
        self.send_response(200 if self.path == "/hello" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _purezmq_run(*args: str) -> list[str]:
    return [sys.executable, "-m", "purezmq", "run", "--", sys.executable, "-m", "locust", *args]


@pytest.mark.timeout(90)
def test_locust_master_and_workers(tmp_path: Path):
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    reports = tmp_path / "reports"
    reports.mkdir()
    env = dict(os.environ, PUREZMQ_LOCUST_REPORT=str(reports), PYTHONUNBUFFERED="1")
    env.pop("PUREZMQ_AS_ZMQ", None)
    port = _free_port()
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    common = ["-f", str(tmp_path / "locustfile.py"),
              "--host", f"http://127.0.0.1:{web.server_address[1]}"]
    master_cmd = _purezmq_run(
        *common, "--master", "--headless", "-u", "6", "-r", "6", "-t", "5s",
        "--expect-workers", "2", "--master-bind-host", "127.0.0.1",
        "--master-bind-port", str(port), "--csv", str(tmp_path / "run"))
    worker_args = [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    procs: dict[str, subprocess.Popen] = {}
    logs = {}
    try:
        for name, cmd, extra in (
            ("master", master_cmd, {}),
            ("worker1", _purezmq_run(*worker_args), {}),
            # The environment switch, without `purezmq run`:
            ("worker2", [sys.executable, "-m", "locust", *worker_args], {"PUREZMQ_AS_ZMQ": "1"}),
        ):
            logs[name] = open(tmp_path / f"{name}.log", "w+")
            procs[name] = subprocess.Popen(
                cmd, cwd=tmp_path, env={**env, **extra}, stdin=subprocess.DEVNULL,
                stdout=logs[name], stderr=subprocess.STDOUT)
            time.sleep(0.3)
        deadline = time.monotonic() + 60
        codes = {}
        for name, proc in procs.items():
            codes[name] = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        web.shutdown()
        web.server_close()
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        out = {}
        for name, f in logs.items():
            f.seek(0)
            out[name] = f.read()
            f.close()
    detail = "\n".join(f"--- {n}\n{text[-3000:]}" for n, text in out.items())
    assert codes == {"master": 0, "worker1": 0, "worker2": 0}, detail
    assert "2 workers connected" in out["master"], detail
    for name in ("worker1", "worker2"):
        assert "Got quit message from master" in out[name], detail
        assert "Traceback" not in out[name], detail
    assert "Traceback" not in out["master"], detail

    # The master's statistics hold the requests the workers made.
    with open(tmp_path / "run_stats.csv", newline="") as f:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}
    dummy = rows[("DUMMY", "noop")]
    assert int(dummy["Request Count"]) > 100, rows
    assert int(dummy["Failure Count"]) == 0, rows
    hello = rows[("GET", "/hello")]
    assert int(hello["Request Count"]) > 20, rows
    assert int(hello["Failure Count"]) == 0, rows
    assert _Hello.count >= int(hello["Request Count"])  # served here, counted there
    assert int(rows[("", "Aggregated")]["Request Count"]) == (
        int(dummy["Request Count"]) + int(hello["Request Count"]))

    # Every process (master, both workers) ran locust's zmq.green on purezmq.
    found = [json.loads(p.read_text()) for p in reports.glob("*.json")]
    assert len(found) == 3, found
    for rep in found:
        assert rep["zmq_is_purezmq"] and rep["green_is_purezmq"], rep
        assert rep["rpc_context"] == "purezmq.green.core", rep
        assert "purezmq" in rep["zmq_file"], rep
    roles = sorted("--master" in r["argv"] for r in found)
    assert roles == [False, False, True]
