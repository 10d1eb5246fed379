"""Fixtures for the interop tests: sides (library x place) and the peer processes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from interop_harness import LocalSide, RemoteProcess, RemoteSide  # noqa: E402

_PROCS: dict[str, RemoteProcess] = {}


def peer_process(lib: str) -> RemoteProcess:
    """The shared peer process of ``lib`` (started again if it died)."""
    proc = _PROCS.get(lib)
    if proc is None or not proc.alive():
        proc = RemoteProcess(lib)
        _PROCS[lib] = proc
    return proc


@pytest.fixture(scope="session", autouse=True)
def _peer_processes():
    yield
    for proc in _PROCS.values():
        proc.close()
    _PROCS.clear()


@pytest.fixture
def make_side():
    """``make_side("purezmq")`` (this process) or ``make_side("pyzmq@peer")`` (a peer)."""
    made: dict[str, object] = {}

    def make(spec: str):
        side = made.get(spec)
        if side is None:
            lib, _, where = spec.partition("@")
            side = RemoteSide(peer_process(lib)) if where == "peer" else LocalSide(lib)
            made[spec] = side
        return side

    yield make
    errors = []
    for spec, side in reversed(list(made.items())):
        try:
            side.cleanup()
        except Exception as e:  # a hung or dead peer: start a fresh one next time
            errors.append(f"{spec}: {e!r}")
            if side.remote:
                side.proc.kill()
                _PROCS.pop(side.lib, None)
    assert not errors, errors


# (binding side, connecting side): purezmq against pyzmq, each in this process or in a peer
# process, each binding or connecting.
PAIRS = [
    pytest.param(("purezmq", "pyzmq@peer"), id="pz_binds-zmq_peer_connects"),
    pytest.param(("pyzmq@peer", "purezmq"), id="zmq_peer_binds-pz_connects"),
    pytest.param(("purezmq@peer", "pyzmq"), id="pz_peer_binds-zmq_connects"),
    pytest.param(("pyzmq", "purezmq@peer"), id="zmq_binds-pz_peer_connects"),
]


@pytest.fixture(params=PAIRS)
def sides(request, make_side):
    return tuple(make_side(spec) for spec in request.param)


@pytest.fixture(params=["tcp", "ipc"])
def transport(request):
    return request.param


@pytest.fixture(scope="session")
def ipc_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("ipc")
    assert len(str(path)) < 60, "ipc socket paths must stay under 107 bytes"
    return path
