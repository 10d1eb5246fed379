"""Hosted reads: a caller blocked in ``recv`` reads its connections itself.

Theory of operation.  Handing each received message from the I/O thread to the caller's
thread costs a thread wake-up (tens of microseconds in CPython), which dominates
request-reply latency.  So when a socket's caller blocks in ``recv`` and all of the
socket's peers (a few at most) are ZMTP connections past their handshake, the caller waits
in ``poll`` on those connections' file descriptors plus a wake-up pipe, and reads and
decodes what arrives on its own thread (:meth:`StreamEngine.hosted_read`).  The I/O thread
stands aside for those connections while they are hosted (it drops its read interest the
first time it sees one, and gets it back when hosting ends), and everything else —
connecting, accepting, heartbeats, writing queued traffic — stays on the I/O thread.

The wake-up pipe is signalled through the socket's ordinary waiter list, so commands,
inproc peers, context termination and pipes draining still wake the caller as before.

Threads and ownership.  A :class:`Host` and its poll set belong to the socket's user
thread.  An engine's ``hosted`` flag is written only by that thread (``start`` sets it,
``unhost`` clears it) and read by the I/O thread, which stands aside while it is set and
looks again :data:`~purezmq.io.engine.HOST_RECHECK` later.  A stale read of ``hosted``
either way is harmless: standing aside once too often is undone by the recheck, and a read
by both threads at once is excluded by the engine's ``_lock`` (``hosted_read`` does not
wait for it).  The one edge that must not be lost is the hand-back after a long hosted
wait: the I/O thread records ``_need_rehost`` when it finds the flag set, and ``unhost``
clears the flag and reads ``_need_rehost``; both do so under the engine's ``_host_lock``
(taken once per hosted wait, not per message), so exactly one of them sees the other and
the I/O thread always gets its read interest back, with or without the GIL.  The hosting
wake-up pipe is a :class:`~purezmq.plumbing.signaler.Signaler`, whose ``hold``/``unhold``
mute the caller's own deliveries without losing another thread's wake.
"""

from __future__ import annotations

import os
from time import monotonic, thread_time

from purezmq._compat import POLLIN, poll
from purezmq.io.engine import StreamEngine
from purezmq.plumbing.signaler import Signaler
from purezmq.transports.stream import Session

MAX_HOSTED = 4  # more peers than this: leave reading to the I/O thread


def _env_us(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default))) * 1e-6
    except ValueError:
        return default * 1e-6


# Before a hosted wait sleeps, it polls without sleeping for up to SPIN seconds.  On a
# virtual machine an idle vCPU halts, and waking it takes tens of microseconds: more than
# a request-reply peer needs to answer (a tcp round trip: ~110 us without, ~22 us with).
# It only spins while the peer answers quickly: after a sleep longer than SPIN_LONG it
# sleeps at once next time, so an idle socket burns one SPIN at most.  The cost is CPU
# while traffic arrives 60-200 us apart.  PUREZMQ_SPIN_US=0 turns it off
# (PUREZMQ_SPIN_LONG_US sets SPIN_LONG).
#
# Spinning must never cost latency when the peer needs this CPU (a peer on the same CPU
# cannot answer while we spin: the spin only delays it).  A process cannot see where its
# peer runs, so the spin decides from what it can see:
#
# * the load: while the 1-minute load average says the machine has a runnable task more
#   than it has CPUs (beyond a request-reply pair that spins), a spin takes a CPU someone
#   else is waiting for, so it does not spin (looked at once per CHECK_EVERY seconds);
# * how its last spins went: a spin during which this thread got less than half of the
#   wall time was sharing its CPU with a runnable task (most likely the peer, which it
#   made wait), so it stops spinning for the next BACKOFF waits (doubling while that
#   keeps happening, up to BACKOFF_MAX), then tries once more.  Measured with REQ and
#   REP pinned to one CPU: 6 spins in 5,000 round trips, the latency of no spin at all.
#
# The affinity is no guide: two processes pinned to one CPU each may share it or not
# (pinned to two CPUs, the spin makes a round trip ~45 us instead of ~250 us here).
SPIN = _env_us("PUREZMQ_SPIN_US", 50.0)
SPIN_LONG = _env_us("PUREZMQ_SPIN_LONG_US", 200.0)
CHECK_EVERY = 1.0
BACKOFF = 64
BACKOFF_MAX = 4096
_sched_yield = getattr(os, "sched_yield", lambda: None)


def _cpus() -> int:
    """The machine's CPUs (the load average is machine-wide)."""
    return os.cpu_count() or 1


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


class _Machine:
    """What the process sees of its CPUs, looked at again every CHECK_EVERY seconds."""

    checked = -CHECK_EVERY - 1.0
    spin_ok = True

    @classmethod
    def spin_allowed(cls, now: float) -> bool:
        if now - cls.checked >= CHECK_EVERY:
            cls.checked = now
            # The load average counts the spinning threads themselves (ours and a peer's
            # that spins too): allow one more runnable task than CPUs.
            cls.spin_ok = _load() < _cpus() + 1
        return cls.spin_ok


def hostable_engines(sock) -> list | None:
    """The stream engines of all of ``sock``'s peers, or None if that is not all of them."""
    peers = sock.peers
    if not peers or len(peers) > MAX_HOSTED:
        return None
    engines = []
    for peer in peers:
        owner = peer.session
        if owner.__class__ is Session:
            owner = owner.engine
        if owner.__class__ is not StreamEngine or owner.closed or not owner.conn.ready:
            return None
        engines.append(owner)
    return engines


def host_signaler(sock) -> Signaler:
    """The socket's hosting wake-up pipe, created on first use."""
    sig = sock._host_sig
    if sig is None:
        sig = Signaler()
        sock._host_sig = sig
    return sig


def get_host(sock) -> Host | None:
    """The socket's :class:`Host`, kept from one blocking call to the next while its peers
    and their engines stay the same (a poll object and its registrations cost more than the
    rest of a hosted wait); None if its peers cannot be hosted."""
    h = sock._host
    if h is not None and h.version == sock._peers_version:
        for engine in h.engines:
            if engine.closed:
                break
        else:
            return h
    engines = hostable_engines(sock)
    if not engines:
        sock._host = None
        return None
    h = sock._host = Host(sock, engines, host_signaler(sock))
    return h


class Host:
    """The hosting of a socket's engines: ``start`` hosts them for one blocking call,
    ``close`` hands them back; the object (and its poll set) serves the next call too."""

    def __init__(self, sock, engines: list, sig: Signaler) -> None:
        self.sig = sig
        self.version = sock._peers_version
        self.poller = poll()  # select.poll, or its select.select stand-in (_compat)
        self.sfd = sig.fileno()
        self.poller.register(self.sfd, POLLIN)
        self.sig_wake = sig.wake
        self.spin = SPIN  # how long the next wait spins before it sleeps
        self.skip = 0  # waits left without spinning (after a spin that shared its CPU)
        self.backoff = BACKOFF  # the next such pause
        self.by_fd = {}
        self.engines = engines
        for engine in engines:
            self.by_fd[engine.fd] = engine
            self.poller.register(engine.fd, POLLIN)

    def start(self) -> None:
        for engine in self.engines:
            engine.hosted = True

    def wait(self, timeout: float | None, waiter) -> None:
        """Wait for a wake-up or data (read it here), up to ``timeout`` seconds."""
        ms = -1 if timeout is None else max(0, int(timeout * 1000.0 + 0.999))
        if ms < 0 or ms > 500:
            ms = 500  # short slices keep Ctrl-C prompt
        busy = False
        sig = self.sig
        for fd, _ev in self._poll(ms):
            if fd == self.sfd:
                sig.drain()
                continue
            engine = self.by_fd.get(fd)
            if engine is None:
                continue
            if engine.closed or not engine.conn.ready:
                # Closed, or closing (its EOF read: the descriptor stays readable until the
                # I/O thread closes it): stale, the caller re-evaluates what to host.
                self.version = -1
                continue
            # Our own deliveries need not signal us: we look at the socket right after.
            # (A byte another thread wrote before this stays in the pipe: the next poll
            # returns at once and drains it.)
            sig.hold()
            try:
                if not engine.hosted_read():
                    busy = True
            finally:
                sig.unhold()
        if busy:
            # The I/O thread is reading that connection now; it will deliver and wake us.
            waiter.wait(0.005 if timeout is None else min(timeout, 0.005))

    def _poll(self, ms: int) -> list:
        """``poll(ms)``, after spinning (see SPIN) while the peer has been answering fast."""
        poll = self.poller.poll
        if not SPIN:
            return poll(ms)
        ready = poll(0)
        if ready or ms == 0:
            return ready
        spin = self.spin
        if spin and self.skip:
            self.skip -= 1
            spin = 0.0
        if spin and _Machine.spin_allowed(monotonic()):
            start = monotonic()
            cpu = thread_time()
            end = start + (spin if ms < 0 else min(spin, ms / 1000.0))
            while True:
                _sched_yield()  # a peer waiting for this CPU gets it at once
                ready = poll(0)
                if ready:
                    break
                if monotonic() >= end:
                    break
            self._spun(monotonic() - start, thread_time() - cpu)
            if ready:
                return ready
        t = monotonic()
        ready = poll(ms)
        self.spin = SPIN if ready and monotonic() - t < SPIN_LONG else 0.0
        return ready

    def _spun(self, wall: float, cpu: float) -> None:
        """After a spin of ``wall`` seconds in which this thread ran ``cpu`` seconds:
        back off when it shared its CPU with a runnable task (see SPIN)."""
        if wall < 10e-6:
            return  # too short to tell
        if cpu < 0.5 * wall:
            self.skip = self.backoff
            self.backoff = min(2 * self.backoff, BACKOFF_MAX)
        else:
            self.backoff = BACKOFF

    def close(self) -> None:
        for engine in self.engines:
            engine.unhost()
