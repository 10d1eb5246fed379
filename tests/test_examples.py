"""The programs in ``examples/`` run to completion as separate processes."""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
EXAMPLES = ROOT / "examples"
ANY_PORT = "tcp://127.0.0.1:*"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Example:
    """``python examples/<name>.py args...`` with its output lines read as they come."""

    def __init__(self, name: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLES / f"{name}.py"), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=_env(), cwd=ROOT,
        )
        self.name = name
        self.lines: list[str] = []
        self._q: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match:
        while True:
            try:
                line = self._q.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"{self.name}: no line matching {pattern!r}:\n{self.output}")
            if line is None:
                raise AssertionError(f"{self.name} ended before {pattern!r}:\n{self.output}")
            m = re.search(pattern, line)
            if m:
                return m

    def finish(self, timeout: float = 30) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._thread.join(timeout=5)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def started():
    """Collects the examples a test starts and kills any left running."""
    procs: list[Example] = []

    def start(name: str, *args: str) -> Example:
        ex = Example(name, *args)
        procs.append(ex)
        return ex

    yield start
    for ex in procs:
        ex.kill()


def _unused_endpoint() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"tcp://127.0.0.1:{port}"


# -- hello world --------------------------------------------------------------------------------


def test_hello_world_server_and_client(started):
    server = started("hwserver", "--bind", ANY_PORT, "--requests", "5")
    endpoint = server.wait_for(r"listening on (\S+)").group(1)
    client = started("hwclient", "--connect", endpoint, "--requests", "5")
    assert client.finish() == 0, client.output
    assert server.finish() == 0, server.output
    assert client.output.count("Received reply") == 5
    assert "Received reply 4 [ b'World' ]" in client.output
    assert server.output.count("Received request: b'Hello'") == 5
    assert "Served 5 requests" in server.output


def test_hello_world_client_times_out_without_server(started):
    client = started("hwclient", "--connect", _unused_endpoint(), "--requests", "1",
                     "--timeout", "0.3")
    assert client.finish() == 1
    assert "No reply within 0.3 s" in client.output


def test_hello_world_server_gives_up_without_clients(started):
    server = started("hwserver", "--bind", ANY_PORT, "--timeout", "0.3")
    assert server.finish() == 1
    assert "No request for 0.3 s" in server.output


# -- divide and conquer ----------------------------------------------------------------------------


def test_divide_and_conquer_ventilator_workers_sink(started):
    sink = started("tasksink", "--bind", ANY_PORT, "--control", ANY_PORT, "--timeout", "20")
    sink_ep = sink.wait_for(r"Sink bound to (\S+)").group(1)
    control_ep = sink.wait_for(r"Control bound to (\S+)").group(1)
    vent = started("taskvent", "--bind", ANY_PORT, "--sink", sink_ep, "--tasks", "30",
                   "--max-ms", "10", "--delay", "1.5", "--timeout", "20", "--seed", "1")
    vent_ep = vent.wait_for(r"Ventilator bound to (\S+)").group(1)
    workers = [
        started("taskwork", "--connect", vent_ep, "--sink", sink_ep, "--control", control_ep,
                "--name", f"w{i}", "--idle-timeout", "20")
        for i in range(3)
    ]
    assert vent.finish() == 0, vent.output
    assert sink.finish() == 0, sink.output
    assert "All 30 results collected" in sink.output
    assert "Total elapsed time" in sink.output
    assert "Total expected cost" in vent.output
    done = 0
    for i, w in enumerate(workers):
        assert w.finish() == 0, w.output
        m = re.search(rf"w{i}: (\d+) tasks done", w.output)
        assert m, w.output
        done += int(m.group(1))
    assert done == 30
    # The sink's per-worker tally agrees with what the workers say.
    tallied = sum(int(n) for n in re.findall(r"^  w\d: (\d+) tasks$", sink.output, re.M))
    assert tallied == 30


def test_worker_exits_when_idle(started):
    worker = started("taskwork", "--connect", _unused_endpoint(), "--sink", _unused_endpoint(),
                     "--idle-timeout", "0.3")
    assert worker.finish() == 0
    assert "no work for 0.3 s" in worker.output


# -- robotx --------------------------------------------------------------------------------------


def test_robotx_run_survives_a_killed_worker(started):
    run = started("robotx", "run", "--workers", "3", "--tasks", "20", "--task-ms", "40",
                  "--task-timeout", "1", "--kill-worker", "2", "--deadline", "40")
    assert run.finish(timeout=50) == 0, run.output
    out = run.output
    assert re.search(r"chaos: killed worker-2 \(pid \d+\) holding tasks \[\d+", out), out
    assert re.search(r"timed out on worker-2 .* re-dispatching its unfinished tasks \[\d+", out)
    assert "robotx: 20/20 tasks done" in out
    assert "1 worker(s) lost (worker-2)" in out
    assert "0 task(s) re-dispatched" not in out
    assert "worker-2: was killed" in out
    assert "worker-2: stop" not in out
    assert "worker-1: stop" in out and "worker-3: stop" in out
    assert "WRONG" not in out


def test_robotx_run_without_failures(started):
    run = started("robotx", "run", "--workers", "2", "--tasks", "10", "--task-ms", "10",
                  "--deadline", "40")
    assert run.finish(timeout=50) == 0, run.output
    assert "robotx: 10/10 tasks done" in run.output
    assert "0 worker(s) lost; 0 task(s) re-dispatched" in run.output


def test_robotx_separate_processes_worker_crashes_mid_task(started):
    coord = started("robotx", "coordinator", "--bind", ANY_PORT, "--tasks", "12",
                    "--task-ms", "30", "--task-timeout", "1", "--deadline", "40")
    endpoint = coord.wait_for(r"coordinator: bound to (\S+),").group(1)
    # The crasher joins alone, so it certainly gets work; it finishes one task and dies
    # holding the next ones.
    crasher = started("robotx", "worker", "--connect", endpoint, "--name", "worker-2",
                      "--crash-after", "1", "--idle-timeout", "40")
    coord.wait_for(r"worker-2 joined")
    assert crasher.finish() == 3, crasher.output
    assert "worker-2: crashing in the middle of task" in crasher.output
    others = [started("robotx", "worker", "--connect", endpoint, "--name", name,
                      "--idle-timeout", "40") for name in ("worker-1", "worker-3")]
    assert coord.finish(timeout=45) == 0, coord.output
    assert re.search(r"timed out on worker-2 .* re-dispatching its unfinished tasks \[\d+",
                     coord.output), coord.output
    assert "robotx: 12/12 tasks done" in coord.output
    assert "1 worker(s) lost (worker-2)" in coord.output
    for w in others:
        assert w.finish() == 0, w.output
        assert re.search(r"stop; ran \d+ tasks", w.output)


def test_robotx_worker_sigkilled_by_an_outsider(started):
    coord = started("robotx", "coordinator", "--bind", ANY_PORT, "--tasks", "10",
                    "--task-ms", "200", "--task-timeout", "1", "--deadline", "40")
    endpoint = coord.wait_for(r"coordinator: bound to (\S+),").group(1)
    victim = started("robotx", "worker", "--connect", endpoint, "--name", "victim",
                     "--idle-timeout", "40")
    victim.wait_for(r"victim: working on task")
    victim.kill()  # SIGKILL while it sleeps through a 200 ms task
    survivor = started("robotx", "worker", "--connect", endpoint, "--name", "survivor",
                       "--idle-timeout", "40")
    assert coord.finish(timeout=45) == 0, coord.output
    assert "robotx: 10/10 tasks done" in coord.output
    assert "1 worker(s) lost (victim)" in coord.output
    assert survivor.finish() == 0, survivor.output
