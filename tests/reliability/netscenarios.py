"""The network-fault scenarios, shared by ``test_netfaults.py`` (short) and
``scripts/reliability/netfaults.py`` (long).  Each takes a :class:`netlab.NetLab`, runs a
purezmq process in namespace A against a pyzmq or purezmq process in namespace B, asserts
what must hold and returns its figures.
"""

from __future__ import annotations

import time

from procs import PeerProcess

HB_IVL, HB_TIMEOUT = 200, 1000  # ms
RECONNECT_IVL_MAX = 200  # ms, as peer.py sets it


def _wire_delta(lab, before: dict) -> dict:
    """Packets the userspace wire forwarded / dropped during a scenario (empty for netem)."""
    after = lab.stats()
    return {f"wire_{k}": v - before.get(k, 0) for k, v in after.items()}


def _link(lab, up: bool) -> None:
    import subprocess

    subprocess.run(["ip", "-n", lab.a, "link", "set", lab.dev_a, "up" if up else "down"],
                   check=True)


def on(lab, side: str, lib: str, role: str, mode: str, port: int, *args: str) -> PeerProcess:
    ns = lab.a if side == "a" else lab.b
    return PeerProcess(lib, role, mode, f"tcp://{lab.addr_b}:{port}", *args,
                       prefix=lab.prefix(ns))


def loss_scenario(lab, lib: str, port: int, count: int, loss: float = 0.05) -> dict:
    """A purezmq PUSH in A sends ``count`` 1 kB messages to a PULL in B over a lossy link."""
    before = lab.stats()
    lab.set(loss=loss, delay=0.005)
    try:
        with on(lab, "b", lib, "pull", "bind", port) as pull:
            pull.wait_ready()
            start = time.monotonic()
            with on(lab, "a", "purezmq", "push", "connect", port, "--count", str(count),
                    "--size", "1000") as push:
                pull.wait_count(count, timeout=120)
                push.wait_for(lambda p: p.done_at is not None, 30, "PUSH finished")
            took = time.monotonic() - start
            got = [s for _g, s, _t in pull.received]
    finally:
        lab.set()
    assert not pull.bad
    assert got == list(range(count)), "lost, repeated or reordered over TCP"
    return dict(count=count, seconds=round(took, 2), rate=round(count / took),
                **_wire_delta(lab, before))


def reorder_scenario(lab, lib: str, port: int, count: int) -> dict:
    """REQ (purezmq, A) / REP (B) round trips over a link that delays, jitters, reorders
    and loses a little."""
    before = lab.stats()
    lab.set(delay=0.02, jitter=0.01, reorder=0.25, loss=0.01)
    try:
        with on(lab, "b", lib, "rep", "bind", port) as rep:
            rep.wait_ready()
            start = time.monotonic()
            with on(lab, "a", "purezmq", "req", "connect", port, "--count", str(count)) as req:
                req.wait_for(lambda p: p.done_at is not None, 120, "REQ finished")
            took = time.monotonic() - start
            got = [s for _g, s, _t in req.received]
    finally:
        lab.set()
    assert not req.bad and got == list(range(count))
    return dict(count=count, seconds=round(took, 2), rtt_ms=round(took / count * 1000, 1),
                **_wire_delta(lab, before))


def partition_scenario(lab, lib: str, port: int, down: float, how: str = "silent",
                       connect_timeout: int = 0) -> dict:
    """A purezmq DEALER (A) pings a ROUTER (B) with heartbeats; the link goes silent for
    ``down`` seconds (``how``: "silent", every packet dropped, or "linkdown", A's interface
    down).  The heartbeat must notice (monitor: DISCONNECTED) and traffic must come back
    after the link heals.  Without ``connect_timeout`` (ms, CONNECT_TIMEOUT) a connect
    started during the partition waits for the kernel's next SYN retry, seconds apart."""
    lab.set()
    with on(lab, "b", lib, "router", "bind", port) as router:
        router.wait_ready()
        with on(lab, "a", "purezmq", "pinger", "connect", port, "--rate", "100",
                "--heartbeat", f"{HB_IVL},{HB_TIMEOUT}", "--monitor",
                "--connect-timeout", str(connect_timeout)) as pinger:
            pinger.wait_count(50, timeout=15)
            cut = time.monotonic()
            if how == "linkdown":
                _link(lab, False)
            else:
                lab.set(partition=True)
            last_before = pinger.received[-1][1]
            pinger.wait_for(lambda p: p.event_after("DISCONNECTED", cut) is not None,
                            HB_TIMEOUT / 1000 + 5, "DISCONNECTED after the partition")
            detected = pinger.event_after("DISCONNECTED", cut) - cut
            time.sleep(max(0.0, cut + down - time.monotonic()))
            healed = time.monotonic()
            if how == "linkdown":
                _link(lab, True)
            else:
                lab.set()

            def resumed(p) -> bool:
                return any(t > healed and s > last_before for _g, s, t in p.received)

            pinger.wait_for(resumed, 30, "traffic after healing")
            back = next(t for _g, s, t in pinger.received if t > healed) - healed
            seqs = [s for _g, s, _t in pinger.received]
    assert seqs == sorted(set(seqs)), "an echo repeated or out of order"
    got = set(seqs)
    lost = sum(1 for s in range(seqs[-1]) if s not in got)
    return dict(how=how, down_s=down, connect_timeout=connect_timeout,
                detect_ms=round(detected * 1000), resume_ms=round(back * 1000),
                echoes=len(seqs), lost=lost)
