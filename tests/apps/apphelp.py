"""Running an application driver script: a subprocess that prints one JSON line per step."""

from __future__ import annotations

import json
import subprocess
import sys


def run_driver(argv: list[str], env: dict, timeout: float) -> dict:
    """Run ``python argv...`` and collect its steps: ``{step: fields}``, plus ``_stderr``
    (the tail of its stderr, or the time-out).  A driver that hangs still gives the steps it
    reached, so a test names the step that failed."""
    try:
        proc = subprocess.run([sys.executable, *argv], env=env, capture_output=True,
                              text=True, timeout=timeout)
        out, err = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = f"timed out after {timeout} s"
    steps: dict = {}
    for line in out.splitlines():
        if line.startswith("{"):
            fields = json.loads(line)
            steps[fields.pop("step")] = fields
    steps["_stderr"] = err[-3000:]
    return steps
