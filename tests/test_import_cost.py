"""``import purezmq`` stays cheap (issue 19: it took ~4x pyzmq's time): the I/O stack and the
heavy stdlib modules load with the first context/socket that needs them, not at import.
Asserted by what is loaded, not by timing."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(60)

# Loaded on first use only; each cost milliseconds at import.
DEFERRED = [
    "logging", "dataclasses", "tempfile", "selectors", "socket",
    "purezmq.io.reactor", "purezmq.io.host", "purezmq.io.engine", "purezmq.zmtp.connection",
    "purezmq.core.endpoint", "purezmq.transports.stream", "purezmq.backend",
]


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nimport json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_loads_no_io_stack():
    loaded = _loaded_after("import purezmq")
    assert not loaded & set(DEFERRED), sorted(loaded & set(DEFERRED))


def test_deferred_modules_load_when_used():
    code = """
import purezmq as zmq
ctx = zmq.Context()
a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
port = a.bind_to_random_port("tcp://127.0.0.1")
b.connect(f"tcp://127.0.0.1:{port}")
b.send(b"x")
assert a.recv() == b"x"
a.close(); b.close(); ctx.term()
"""
    loaded = _loaded_after(code)
    for name in ("purezmq.io.reactor", "purezmq.core.endpoint", "purezmq.zmtp.connection"):
        assert name in loaded
