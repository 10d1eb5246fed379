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

    def __init__(self, sleeps=(), ready_on_look: int = 0, cpu_share: float = 1.0) -> None:
        self.now = 0.0
        self.cpu_share = cpu_share  # of the time that passes, how much this thread runs
        self.sleeps = list(sleeps)
        self.ready_on_look = ready_on_look
        self.calls: list[int] = []

    def monotonic(self) -> float:
        return self.now

    def thread_time(self) -> float:
        return self.now * self.cpu_share

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

    monkeypatch.setattr(host._Machine, "spin_allowed", classmethod(lambda cls, now: True))

    def make(script: Script) -> host.Host:
        monkeypatch.setattr(host, "monotonic", script.monotonic)
        monkeypatch.setattr(host, "thread_time", script.thread_time)
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


def test_a_spin_that_shares_its_cpu_backs_off(make_host, monkeypatch):
    """A spin in which this thread ran less than half the time had a runnable task beside
    it on its CPU (the peer, most likely, which the spin kept waiting): the next BACKOFF
    waits sleep at once, then it tries again; doubling while that keeps happening."""
    monkeypatch.setattr(host, "BACKOFF", 3)
    monkeypatch.setattr(host, "BACKOFF_MAX", 6)
    script = Script(sleeps=[20e-6] * 20, cpu_share=0.3)
    h = make_host(script)
    h.backoff = host.BACKOFF
    assert h._poll(500) == READY
    assert script.calls.count(0) >= 9  # it spun (and saw it shared the CPU)
    for _ in range(3):
        script.calls.clear()
        assert h._poll(500) == READY
        assert script.calls == [0, 500]  # no spin
    script.calls.clear()
    assert h._poll(500) == READY
    assert script.calls.count(0) >= 9  # tries again, still shared: 6 waits without now
    for _ in range(6):
        script.calls.clear()
        h._poll(500)
        assert script.calls == [0, 500]
    script.cpu_share = 1.0  # the CPU is ours again: a spin that runs resets the back-off
    script.calls.clear()
    h._poll(500)
    assert script.calls.count(0) >= 9 and h.skip == 0 and h.backoff == 3


def test_data_found_by_a_shared_spin_still_counts(make_host):
    script = Script(ready_on_look=5, cpu_share=0.2)
    h = make_host(script)
    assert h._poll(500) == READY
    assert h.skip == host.BACKOFF  # answered, but the peer had to take our CPU to do it


def test_a_short_spin_tells_nothing(make_host):
    script = Script(ready_on_look=2, cpu_share=0.0)
    h = make_host(script)
    assert h._poll(500) == READY
    assert h.skip == 0


@pytest.mark.parametrize(
    ("cpus", "load", "allowed"),
    [(1, 0.0, True), (1, 2.0, False), (2, 2.9, True), (2, 3.0, False), (8, 3.0, True)],
)
def test_the_machine_allows_a_spin(monkeypatch, cpus, load, allowed):
    """A runnable task more than the machine has CPUs (load average), beside a spinning
    pair: do not take one more CPU."""
    monkeypatch.setattr(host, "_cpus", lambda: cpus)
    monkeypatch.setattr(host, "_load", lambda: load)
    monkeypatch.setattr(host._Machine, "checked", -100.0)
    monkeypatch.setattr(host._Machine, "spin_ok", True)
    assert host._Machine.spin_allowed(0.0) is allowed
    # Looked at again only after CHECK_EVERY seconds.
    monkeypatch.setattr(host, "_load", lambda: 0.0)
    assert host._Machine.spin_allowed(host.CHECK_EVERY / 2) is allowed
    assert host._Machine.spin_allowed(host.CHECK_EVERY + 0.1) is True


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
