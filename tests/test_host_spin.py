"""The spin-before-sleep policy of hosted waits (io/host.py), on a scripted clock and
poller: it spins while the peer answers fast, stops after one long sleep, takes data that
comes during the spin without sleeping, and never spins past the caller's timeout."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from purezmq.io import host
from purezmq.plumbing.signaler import Signaler

READY = [(3, 1)]


class Script:
    """A fake clock and ``poll``: a look (``poll(0)``) takes 5 us and finds data only on
    the look numbered ``ready_on_look``; a sleep (``poll(ms)``) takes the next scripted
    number of seconds and then has data."""

    def __init__(self, sleeps=(), ready_on_look: int = 0) -> None:
        self.now = 0.0
        self.sleeps = list(sleeps)
        self.ready_on_look = ready_on_look
        self.calls: list[int] = []

    def monotonic(self) -> float:
        return self.now

    def poll(self, ms: int):
        self.calls.append(ms)
        if ms == 0:
            self.now += 5e-6
            return READY if self.calls.count(0) == self.ready_on_look else []
        self.now += self.sleeps.pop(0)
        return READY


@pytest.fixture
def make_host(monkeypatch):
    monkeypatch.setattr(host, "SPIN", 50e-6)
    monkeypatch.setattr(host, "SPIN_LONG", 200e-6)
    monkeypatch.setattr(host, "_sched_yield", lambda: None)
    sigs = []

    def make(script: Script) -> host.Host:
        monkeypatch.setattr(host, "monotonic", script.monotonic)
        sig = Signaler()
        sigs.append(sig)
        h = host.Host(SimpleNamespace(_peers_version=0), [], sig)
        h.poller = SimpleNamespace(poll=script.poll)
        return h

    yield make
    for sig in sigs:
        sig.close()


def test_a_fast_peer_keeps_it_spinning_a_slow_one_stops_it(make_host):
    script = Script(sleeps=[100e-6, 5e-3, 100e-6])
    h = make_host(script)
    assert h.spin == 50e-6
    # Nothing during the ~50 us spin, then a sleep answered after 100 us: keep spinning.
    assert h._poll(500) == READY
    assert 9 <= script.calls.count(0) <= 12 and script.calls[-1] == 500
    assert h.spin == 50e-6
    # Spin again, then a 5 ms sleep: a slow peer, so the next wait sleeps at once.
    script.calls.clear()
    assert h._poll(500) == READY
    assert script.calls.count(0) >= 9 and h.spin == 0.0
    script.calls.clear()
    assert h._poll(500) == READY
    assert script.calls == [0, 500]  # one look, then straight to sleep
    assert h.spin == 50e-6  # ... and that quick answer turns spinning back on


def test_data_during_the_spin_is_taken_without_sleeping(make_host):
    script = Script(ready_on_look=3)
    h = make_host(script)
    assert h._poll(500) == READY
    assert script.calls == [0, 0, 0]


def test_the_spin_never_outlasts_the_timeout(make_host):
    script = Script()
    h = make_host(script)
    assert h._poll(0) == []  # a zero timeout: one look, no spin, no sleep
    assert script.calls == [0]


def test_spin_off(make_host, monkeypatch):
    script = Script(sleeps=[1e-3])
    h = make_host(script)
    monkeypatch.setattr(host, "SPIN", 0.0)
    assert h._poll(500) == READY
    assert script.calls == [500]


@pytest.mark.parametrize(
    ("value", "want"), [("0", 0.0), ("20", 20e-6), ("junk", 50e-6), ("-3", 0.0)]
)
def test_spin_knob(monkeypatch, value, want):
    monkeypatch.setenv("PUREZMQ_SPIN_US", value)
    assert host._env_us("PUREZMQ_SPIN_US", 50.0) == pytest.approx(want)
