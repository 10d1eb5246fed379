"""examples/ws_dashboard.py in a real browser (headless chromium): the page shows live
ticks from the purezmq PUB and answers from the REP, both over ws://."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

pytest.importorskip("wsproto")

from ws_helpers import CHROMIUM, HERE, node_env, require_chromium  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))


@pytest.mark.timeout(120)
def test_dashboard_page_shows_ticks_and_answers():
    require_chromium()
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "examples", "ws_dashboard.py"),
         "--http-port", "0", "--interval", "0.05"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        feed_line = proc.stdout.readline()
        assert feed_line.startswith("feed ws://127.0.0.1:"), feed_line
        url = proc.stdout.readline().split()[1]
        assert url.startswith("http://127.0.0.1:")
        check = subprocess.run(
            ["node", os.path.join(HERE, "dashboard_check.js"), url],
            capture_output=True,
            text=True,
            env=dict(node_env(), CHROMIUM=CHROMIUM),
            timeout=90,
        )
        result = json.loads(check.stdout.strip().splitlines()[-1])
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "fatal" not in result, result
    assert result["errors"] == []
    assert result["status"] == "connected"
    assert result["count"] >= 3
    ticks = [json.loads(t.partition(" ")[2]) for t in result["ticks"] if t.startswith("tick ")]
    assert len(ticks) == len(result["ticks"]) >= 3
    seqs = [t["seq"] for t in ticks]
    assert seqs == sorted(seqs, reverse=True)  # newest first, none out of order
    assert result["answer"].startswith("IS ANYBODY THERE? (answered by purezmq at ")
    assert proc.returncode == 0
