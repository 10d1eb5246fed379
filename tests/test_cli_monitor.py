"""``purezmq monitor`` prints a socket's events as they happen."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

SRC = str(Path(__file__).resolve().parent.parent / "src")


def run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-m", "purezmq", "monitor", *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def test_monitor_reports_connect_retries():
    # Port 1 on loopback refuses connections: CONNECT_DELAYED, CLOSED, CONNECT_RETRIED.
    out = run_cli("--type", "PUSH", "--connect", "tcp://127.0.0.1:1", "--count", "3")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3
    assert "CONNECT_RETRIED" in out.stdout
    assert all("tcp://127.0.0.1:1" in line for line in lines)


def test_monitor_reports_listening_and_handshake():
    import purezmq as zmq

    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [sys.executable, "-m", "purezmq", "monitor", "--type", "PULL",
         "--bind", "tcp://127.0.0.1:*", "--count", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        first = proc.stdout.readline()
        assert "LISTENING" in first
        endpoint = first.split()[-1]
        ctx = zmq.Context()
        push = ctx.socket(zmq.PUSH)
        push.connect(endpoint)
        rest, err = proc.communicate(timeout=20)
        push.close(0)
        ctx.term()
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "ACCEPTED" in rest and "HANDSHAKE_SUCCEEDED" in rest


def test_monitor_usage_errors():
    out = run_cli("--type", "NOPE", "--bind", "tcp://127.0.0.1:*")
    assert out.returncode == 2 and "--type" in out.stderr
    out = run_cli("--type", "PUSH")
    assert out.returncode == 2
