"""A RobotX-style distributed task runner: no broker, survives workers that die mid-run.

The seed's motivation: "How to make messaging work without a central server?"  RobotX ran
test suites across machines; here a *coordinator* fans test-like tasks out to *worker*
processes and collects the results, with nothing in between::

    coordinator  ROUTER  <---- DEALER  worker-1
    (bind)               <---- DEALER  worker-2
                         <---- DEALER  worker-3

Protocol (multipart frames; the ROUTER adds/strips the worker's routing id):

* worker -> coordinator: ``READY <capacity>`` once, then ``RESULT <task id> <result>``;
  each result gives the worker one more credit.
* coordinator -> worker: ``TASK <task id> <n> <ms>`` ("is n prime? take ms to answer"),
  and ``STOP`` at the end.

The coordinator hands a task only to a worker with credit (at most ``--prefetch`` tasks in
flight each).  A task not answered within ``--task-timeout`` seconds marks its worker as
lost: every unfinished task of that worker goes back to the queue for the others.  A lost
worker that answers after all is welcomed back; duplicate results are ignored (tasks are
idempotent).

Run everything at once (workers are subprocesses; ``--kill-worker`` SIGKILLs one mid-run)::

    python examples/robotx.py run --workers 3 --tasks 30 --kill-worker 2

or by hand, on several machines::

    python examples/robotx.py coordinator --bind 'tcp://*:5570' --tasks 30
    python examples/robotx.py worker --connect tcp://coordinator-host:5570   # as many as you like
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import purezmq as zmq


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


def say(text: str) -> None:
    print(text, flush=True)


# -- worker ---------------------------------------------------------------------------------


def run_worker(args: argparse.Namespace) -> int:
    name = args.name or f"worker-{os.getpid()}"
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.routing_id = name.encode()
    sock.linger = 2000
    sock.connect(args.connect)
    sock.send_multipart([b"READY", str(args.prefetch).encode()])
    say(f"{name}: ready (pid {os.getpid()}), connected to {args.connect}")
    done = 0
    try:
        while True:
            if not sock.poll(int(args.idle_timeout * 1000)):
                say(f"{name}: nothing from the coordinator for {args.idle_timeout:g} s, exiting")
                return 1
            frames = sock.recv_multipart()
            if frames[0] == b"STOP":
                say(f"{name}: stop; ran {done} tasks")
                return 0
            if frames[0] != b"TASK" or len(frames) != 4:
                say(f"{name}: ignoring a malformed message {frames!r}")
                continue
            task_id, n, ms = frames[1], int(frames[2]), int(frames[3])
            if args.crash_after is not None and done >= args.crash_after:
                say(f"{name}: crashing in the middle of task {task_id.decode()}")
                os._exit(3)  # no goodbye, no flush: a real crash
            say(f"{name}: working on task {task_id.decode()}")
            time.sleep(ms / 1000)  # the "test case" takes a while
            verdict = b"prime" if is_prime(n) else b"composite"
            sock.send_multipart([b"RESULT", task_id, verdict])
            done += 1
    finally:
        sock.close()
        context.term()


# -- coordinator ----------------------------------------------------------------------------


@dataclass
class Worker:
    name: bytes
    capacity: int = 1
    credit: int = 0
    lost: bool = False
    tasks: set[int] = field(default_factory=set)  # in flight on this worker
    dispatched: int = 0


@dataclass
class Stats:
    redispatched: int = 0
    duplicates: int = 0
    lost: list[str] = field(default_factory=list)


def make_tasks(count: int, task_ms: int, seed: int) -> dict[int, tuple[int, int]]:
    rng = random.Random(seed)
    return {i: (rng.randint(2, 100_000), task_ms) for i in range(count)}


class Coordinator:
    """The ROUTER side: queue, credits, in-flight deadlines, results."""

    def __init__(self, sock: zmq.Socket, tasks: dict[int, tuple[int, int]],
                 task_timeout: float) -> None:
        self.sock = sock
        self.tasks = tasks
        self.task_timeout = task_timeout
        self.queue: deque[int] = deque(tasks)
        self.workers: dict[bytes, Worker] = {}
        self.inflight: dict[int, tuple[bytes, float]] = {}  # task -> (worker, deadline)
        self.results: dict[int, tuple[bytes, bytes]] = {}  # task -> (worker, verdict)
        self.stats = Stats()
        self.on_dispatch = None  # hook: called with (worker name, task id) after sending

    @property
    def finished(self) -> bool:
        return len(self.results) == len(self.tasks)

    def step(self, max_wait: float) -> None:
        """Dispatch what we can, wait up to ``max_wait`` s for messages, expire deadlines."""
        self._dispatch()
        now = time.monotonic()
        wait = max_wait
        if self.inflight:
            wait = min(wait, max(0.0, min(d for _, d in self.inflight.values()) - now))
        if self.sock.poll(int(wait * 1000) + 1):
            while True:
                try:
                    frames = self.sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                self._handle(frames)
        self._expire()

    def _handle(self, frames: list[bytes]) -> None:
        ident, kind, *rest = frames
        w = self.workers.get(ident)
        if kind == b"READY":
            capacity = max(1, int(rest[0])) if rest else 1
            if w is None:
                w = self.workers[ident] = Worker(ident, capacity, capacity)
                say(f"coordinator: {ident.decode()} joined (capacity {capacity})")
            return
        if kind != b"RESULT" or len(rest) != 2:
            say(f"coordinator: ignoring {frames!r}")
            return
        task_id, verdict = int(rest[0]), rest[1]
        if w is None:  # a result from a worker we never saw say READY: adopt it
            w = self.workers[ident] = Worker(ident, 1, 0)
        if w.lost:
            say(f"coordinator: {ident.decode()} is back after all")
            w.lost = False
            w.credit = 0
        w.credit = min(w.capacity, w.credit + 1)
        w.tasks.discard(task_id)
        if task_id in self.results:
            self.stats.duplicates += 1
            return
        expected = b"prime" if is_prime(self.tasks[task_id][0]) else b"composite"
        if verdict != expected:
            say(f"coordinator: task {task_id} from {ident.decode()} is WRONG: {verdict!r}")
        self.results[task_id] = (ident, verdict)
        owner = self.inflight.pop(task_id, None)
        if owner is not None and owner[0] != ident:
            self.workers[owner[0]].tasks.discard(task_id)

    def _dispatch(self) -> None:
        while self.queue:
            live = [w for w in self.workers.values() if not w.lost and w.credit > 0]
            if not live:
                return
            w = max(live, key=lambda w: w.credit)
            task_id = self.queue.popleft()
            if task_id in self.results:
                continue
            n, ms = self.tasks[task_id]
            self.sock.send_multipart(
                [w.name, b"TASK", str(task_id).encode(), str(n).encode(), str(ms).encode()])
            w.credit -= 1
            w.dispatched += 1
            w.tasks.add(task_id)
            self.inflight[task_id] = (w.name, time.monotonic() + self.task_timeout)
            if self.on_dispatch is not None:
                self.on_dispatch(w.name, task_id)

    def _expire(self) -> None:
        now = time.monotonic()
        for task_id, (name, deadline) in list(self.inflight.items()):
            if deadline > now or task_id not in self.inflight:
                continue
            w = self.workers[name]
            unfinished = sorted(t for t in w.tasks if t not in self.results)
            say(f"coordinator: task {task_id} timed out on {name.decode()} after "
                f"{self.task_timeout:g} s; {name.decode()} is lost, re-dispatching its "
                f"unfinished tasks {unfinished}")
            self.lose(w)

    def lose(self, w: Worker) -> None:
        if not w.lost:
            self.stats.lost.append(w.name.decode())
        w.lost = True
        w.credit = 0
        for task_id in sorted(w.tasks, reverse=True):
            self.inflight.pop(task_id, None)
            if task_id not in self.results:
                self.queue.appendleft(task_id)
                self.stats.redispatched += 1
        w.tasks.clear()

    def stop_workers(self) -> None:
        for w in self.workers.values():
            self.sock.send_multipart([w.name, b"STOP"])


def summary(coord: Coordinator, elapsed: float) -> str:
    by_worker = Counter(name.decode() for name, _ in coord.results.values())
    spread = ", ".join(f"{k}: {v}" for k, v in sorted(by_worker.items()))
    primes = sum(1 for _, verdict in coord.results.values() if verdict == b"prime")
    s = coord.stats
    lost = f"{len(s.lost)} worker(s) lost" + (f" ({', '.join(s.lost)})" if s.lost else "")
    return (f"robotx: {len(coord.results)}/{len(coord.tasks)} tasks done in {elapsed:.2f} s "
            f"({spread}); {primes} primes; {lost}; {s.redispatched} task(s) re-dispatched; "
            f"{s.duplicates} duplicate result(s) ignored")


def coordinate(sock: zmq.Socket, args: argparse.Namespace, procs=None) -> int:
    tasks = make_tasks(args.tasks, args.task_ms, args.seed)
    coord = Coordinator(sock, tasks, args.task_timeout)
    procs = procs or {}
    killed: set[bytes] = set()
    victim = None
    if getattr(args, "kill_worker", None):
        victim = f"worker-{args.kill_worker}".encode()

    def chaos(name: bytes, task_id: int) -> None:
        # Kill the victim once it has finished some work and was just handed more: it dies
        # mid-run, holding unfinished tasks that only the timeout can recover.
        w = coord.workers[name]
        if name == victim and name not in killed and w.dispatched > args.prefetch:
            proc = procs.get(name)
            if proc is not None:
                proc.kill()
                killed.add(name)
                say(f"chaos: killed {name.decode()} (pid {proc.pid}) holding tasks "
                    f"{sorted(coord.workers[name].tasks)}")

    coord.on_dispatch = chaos
    t0 = time.monotonic()
    deadline = t0 + args.deadline
    while not coord.finished:
        if time.monotonic() > deadline:
            say(summary(coord, time.monotonic() - t0))
            say(f"robotx: FAILED, deadline of {args.deadline:g} s passed")
            return 1
        if procs and all(p.poll() is not None for p in procs.values()):
            say(summary(coord, time.monotonic() - t0))
            say("robotx: FAILED, every worker process has exited")
            return 1
        coord.step(0.1)
    elapsed = time.monotonic() - t0
    coord.stop_workers()
    say(summary(coord, elapsed))
    return 0


def run_coordinator(args: argparse.Namespace) -> int:
    context = zmq.Context()
    sock = context.socket(zmq.ROUTER)
    sock.linger = 1000
    try:
        sock.bind(args.bind)
        say(f"coordinator: bound to {sock.last_endpoint.decode()}, {args.tasks} tasks")
        return coordinate(sock, args)
    finally:
        sock.close()
        context.term()


def run_all(args: argparse.Namespace) -> int:
    """Coordinator here, ``--workers`` worker subprocesses, optional chaos."""
    context = zmq.Context()
    sock = context.socket(zmq.ROUTER)
    sock.linger = 1000
    procs: dict[bytes, subprocess.Popen] = {}
    try:
        sock.bind(args.bind)
        endpoint = sock.last_endpoint.decode()
        say(f"coordinator: bound to {endpoint}; starting {args.workers} workers "
            f"for {args.tasks} tasks")
        for i in range(1, args.workers + 1):
            name = f"worker-{i}"
            cmd = [sys.executable, os.path.abspath(__file__), "worker", "--connect", endpoint,
                   "--name", name, "--prefetch", str(args.prefetch),
                   "--idle-timeout", str(args.deadline)]
            procs[name.encode()] = subprocess.Popen(cmd)
        rc = coordinate(sock, args, procs)
        for name, proc in procs.items():
            try:
                code = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            if code == -signal.SIGKILL:
                say(f"{name.decode()}: was killed")
            elif code != 0:
                say(f"{name.decode()}: exited with code {code}")
        return rc
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        sock.close()
        context.term()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role", required=True)

    def coordinator_args(p: argparse.ArgumentParser, bind: str) -> None:
        p.add_argument("--bind", default=bind, metavar="EP", help=f"default {bind}")
        p.add_argument("--tasks", type=int, default=30, help="number of tasks (default 30)")
        p.add_argument("--task-ms", type=int, default=50,
                       help="how long each task takes, in ms (default 50)")
        p.add_argument("--task-timeout", type=float, default=1.0, metavar="SECONDS",
                       help="a task unanswered this long is re-dispatched (default 1)")
        p.add_argument("--deadline", type=float, default=60.0, metavar="SECONDS",
                       help="fail if the run takes longer (default 60)")
        p.add_argument("--seed", type=int, default=7, help="random seed for the tasks")

    p_run = sub.add_parser("run", help="coordinator plus worker subprocesses")
    coordinator_args(p_run, "tcp://127.0.0.1:*")
    p_run.add_argument("--workers", type=int, default=3, help="worker processes (default 3)")
    p_run.add_argument("--prefetch", type=int, default=2,
                       help="tasks in flight per worker (default 2)")
    p_run.add_argument("--kill-worker", type=int, default=None, metavar="K",
                       help="SIGKILL worker-K mid-run, to watch its tasks being recovered")

    p_coord = sub.add_parser("coordinator", help="just the coordinator")
    coordinator_args(p_coord, "tcp://*:5570")

    p_work = sub.add_parser("worker", help="just a worker")
    p_work.add_argument("--connect", default="tcp://localhost:5570", metavar="EP")
    p_work.add_argument("--name", default=None, help="routing id (default worker-PID)")
    p_work.add_argument("--prefetch", type=int, default=2,
                        help="tasks this worker accepts at once (default 2)")
    p_work.add_argument("--crash-after", type=int, default=None, metavar="N",
                        help="die abruptly on receiving the task after N finished ones")
    p_work.add_argument("--idle-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="exit after this long without hearing from the coordinator")

    args = parser.parse_args(argv)
    if args.role == "worker":
        return run_worker(args)
    if args.role == "coordinator":
        return run_coordinator(args)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return run_all(args)


if __name__ == "__main__":
    sys.exit(main())
