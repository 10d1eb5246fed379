"""Start, watch and kill ``peer.py`` processes (see its docstring for the line protocol)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER = HERE / "peer.py"


def child_env() -> dict:
    """The environment for a child Python that must import this same purezmq."""
    import purezmq

    env = dict(os.environ)
    src = str(Path(purezmq.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class PeerProcess:
    """A running ``peer.py``; ``received`` holds ``(gen, seq, t)`` for each ``R`` line."""

    def __init__(self, lib: str, role: str, mode: str, endpoint: str, *args: str,
                 prefix: list[str] | None = None) -> None:
        cmd = [*(prefix or []), sys.executable, str(PEER), lib, role, mode, endpoint, *args]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env()
        )
        self.received: list[tuple[int, int, float]] = []
        self.bad: list[str] = []
        self.events: list[tuple[str, float]] = []  # monitor events (``--monitor``)
        self.done_at: float | None = None
        self.ready_at: float | None = None
        self._ready = threading.Event()
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").split()
            if not line:
                continue
            now = time.monotonic()
            with self._cv:
                if line[0] == "READY":
                    self.ready_at = now
                    self._ready.set()
                elif line[0] == "R":
                    self.received.append((int(line[1]), int(line[2]), now))
                elif line[0] == "BAD":
                    self.bad.append(" ".join(line[1:]))
                elif line[0] == "EV":
                    self.events.append((line[1], now))
                elif line[0] == "DONE":
                    self.done_at = now
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def wait_ready(self, timeout: float = 10.0) -> float:
        if not self._ready.wait(timeout):
            raise TimeoutError(f"peer not ready: {self.stderr()}")
        return self.ready_at

    def wait_count(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cv:
            while len(self.received) < n:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._reader.is_alive():
                    raise TimeoutError(
                        f"peer received {len(self.received)} < {n}: {self.stderr()}"
                    )
                self._cv.wait(min(left, 0.2))

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "condition") -> None:
        """Wait until ``predicate(self)`` holds (checked at each line the peer prints)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{what} not met in {timeout} s: {self.stderr()}")
                self._cv.wait(min(left, 0.2))

    def event_after(self, name: str, since: float) -> float | None:
        return next((t for n, t in self.events if n == name and t >= since), None)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        try:
            return self.proc.stderr.read().decode(errors="replace")[-2000:]
        except Exception:
            return ""

    def __enter__(self) -> PeerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
        self.stderr_text = self.stderr()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()
        # A purezmq peer logs an exception that reached its I/O thread on stderr.
        if exc[0] is None and "purezmq: error in" in self.stderr_text:
            raise AssertionError(f"the peer's I/O thread failed:\n{self.stderr_text}")
