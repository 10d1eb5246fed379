"""Helpers of the PGM tests: network namespaces (:mod:`.netns`) and a libzmq peer process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PEER_SCRIPT = Path(__file__).resolve().parent / "libzmq_peer.py"


def libzmq_unavailable() -> str | None:
    """None when Debian's libzmq.so.5 with PGM is loadable, else why not."""
    r = subprocess.run(
        [sys.executable, str(PEER_SCRIPT), "--check"], capture_output=True, text=True, timeout=30
    )
    return None if r.returncode == 0 else (r.stdout.strip() or r.stderr.strip() or "no libzmq")


class LibzmqPeer:
    """A libzmq socket in a helper process inside network namespace ``ns``."""

    def __init__(self, ns: str) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, str(PEER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        hello = self._read()
        assert hello.get("ready"), hello

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            raise RuntimeError(f"libzmq peer died: {err[-2000:]}")
        return json.loads(line)

    def call(self, op: str, **args) -> dict:
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def ok(self, op: str, **args) -> dict:
        answer = self.call(op, **args)
        assert answer.get("ok"), (op, args, answer)
        return answer

    def socket(self, kind: str, **options) -> None:
        self.ok("socket", type=kind, options=options)

    def connect(self, endpoint: str) -> None:
        self.ok("connect", endpoint=endpoint)

    def subscribe(self, topic: bytes) -> None:
        self.ok("subscribe", topic=topic.hex())

    def send(self, frames: list[bytes]) -> None:
        self.ok("send", frames=[f.hex() for f in frames])

    def recv(self, timeout: int = 5000) -> list[bytes] | None:
        """A message, or None when none came within ``timeout`` ms."""
        answer = self.call("recv", timeout=timeout)
        if "frames" not in answer:
            return None
        return [bytes.fromhex(f) for f in answer["frames"]]

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.call("close")
                self.proc.wait(timeout=10)
        except Exception:
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if f:
                    f.close()
