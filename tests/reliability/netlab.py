"""Two private network namespaces joined by a faulty wire, for the network-fault scenarios.

``NetLab()`` makes namespaces ``pzrel-<tag>a`` and ``pzrel-<tag>b`` (removed by ``close()``),
each with ``lo`` up and one link to the other: ``addr_a`` = 10.X.Y.1, ``addr_b`` = 10.X.Y.2.
Nothing is routed out of them, so no traffic can leave this machine.

Faults: ``lab.set(loss=0.05, delay=0.01, jitter=0.005, reorder=0.25, partition=False)``.

Two ways to make them:

* ``tc netem`` on a veth pair, when the kernel has ``sch_netem``;
* otherwise (minimal kernels, such as the Firecracker VM this was written on, have no netem,
  no tc classifiers and no iptables) a *userspace wire*: a TUN device in each namespace and
  a small process (this module run as a script) that copies IP packets from one to the other,
  dropping, delaying and reordering them as asked.  A partition drops everything silently:
  no RST, no ICMP, exactly what a pulled cable looks like to TCP.

``lab.run(ns, argv)`` starts a process inside a namespace (``ip netns exec``).
"""

from __future__ import annotations

import ctypes
import heapq
import json
import os
import random
import secrets
import selectors
import shutil
import struct
import subprocess
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def unavailable() -> str | None:
    """None when a lab can be built here, else why not."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    name = "pzrel-probe-" + secrets.token_hex(3)
    r = _ip("netns", "add", name, check=False)
    if r.returncode != 0:
        return f"ip netns add failed: {r.stderr.strip()}"
    _ip("netns", "del", name, check=False)
    if not _has_netem() and not os.path.exists("/dev/net/tun"):
        return "neither tc netem nor /dev/net/tun is available"
    return None


def _has_netem() -> bool:
    if shutil.which("tc") is None:
        return False
    tag = secrets.token_hex(3)
    ns = f"pzrel-probe-{tag}"
    if _ip("netns", "add", ns, check=False).returncode:
        return False
    try:
        _ip("-n", ns, "link", "add", "pa" + tag, "type", "veth", "peer", "name", "pb" + tag)
        r = subprocess.run(
            ["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "pa" + tag, "root",
             "netem", "loss", "1%"], capture_output=True,
        )
        return r.returncode == 0
    except RuntimeError:
        return False
    finally:
        _ip("netns", "del", ns, check=False)


class NetLab:
    def __init__(self, backend: str | None = None) -> None:
        tag = secrets.token_hex(3)
        self.a, self.b = f"pzrel-{tag}a", f"pzrel-{tag}b"
        o2, o3 = secrets.randbelow(200) + 20, secrets.randbelow(250) + 1
        self.addr_a, self.addr_b = f"10.{o2}.{o3}.1", f"10.{o2}.{o3}.2"
        self.dev_a, self.dev_b = "pzra" + tag, "pzrb" + tag
        self.backend = backend or ("netem" if _has_netem() else "tun")
        self.wire: subprocess.Popen | None = None
        self.procs: list[subprocess.Popen] = []
        made = []
        try:
            for ns in (self.a, self.b):
                _ip("netns", "add", ns)
                made.append(ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            if self.backend == "netem":
                _ip("link", "add", self.dev_a, "netns", self.a, "type", "veth",
                    "peer", "name", self.dev_b, "netns", self.b)
            else:
                _ip("-n", self.a, "tuntap", "add", "dev", self.dev_a, "mode", "tun")
                _ip("-n", self.b, "tuntap", "add", "dev", self.dev_b, "mode", "tun")
            for ns, dev, addr in ((self.a, self.dev_a, self.addr_a),
                                  (self.b, self.dev_b, self.addr_b)):
                _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
                _ip("-n", ns, "link", "set", dev, "up")
            if self.backend == "tun":
                self.wire = subprocess.Popen(
                    [sys.executable, os.path.abspath(__file__), self.a, self.dev_a,
                     self.b, self.dev_b],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                )
                if self.wire.stdout.readline().strip() != "WIRED":
                    raise RuntimeError("the userspace wire did not start")
        except BaseException:
            self.close()
            raise

    # -- faults ------------------------------------------------------------------------------
    def set(self, *, loss: float = 0.0, delay: float = 0.0, jitter: float = 0.0,
            reorder: float = 0.0, partition: bool = False) -> None:
        """Loss and reorder are probabilities, delay and jitter seconds, on each direction."""
        if self.backend == "tun":
            self.wire.stdin.write(json.dumps(dict(
                loss=loss, delay=delay, jitter=jitter, reorder=reorder, partition=partition
            )) + "\n")
            self.wire.stdin.flush()
            assert self.wire.stdout.readline().strip() == "OK"
            return
        for ns, dev in ((self.a, self.dev_a), (self.b, self.dev_b)):
            spec = ["loss", "100%"] if partition else []
            if not partition:
                if delay or jitter:
                    spec += ["delay", f"{delay * 1000:.1f}ms", f"{jitter * 1000:.1f}ms"]
                if loss:
                    spec += ["loss", f"{loss * 100:.2f}%"]
                if reorder and delay:
                    spec += ["reorder", f"{reorder * 100:.0f}%"]
            subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev,
                            "root", "netem", *(spec or ["delay", "0ms"])], check=True)

    def stats(self) -> dict:
        if self.backend != "tun":
            return {}
        self.wire.stdin.write('{"stats": true}\n')
        self.wire.stdin.flush()
        return json.loads(self.wire.stdout.readline())

    # -- processes ---------------------------------------------------------------------------
    def run(self, ns: str, argv: list[str], **kw) -> subprocess.Popen:
        p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kw)
        self.procs.append(p)
        return p

    def prefix(self, ns: str) -> list[str]:
        return ["ip", "netns", "exec", ns]

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        if self.wire is not None and self.wire.poll() is None:
            self.wire.stdin.close()
            try:
                self.wire.wait(3)
            except subprocess.TimeoutExpired:
                self.wire.kill()
                self.wire.wait()
        for ns in (self.a, self.b):
            _ip("netns", "del", ns, check=False)

    def __enter__(self) -> NetLab:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- the userspace wire (run as a script) ---------------------------------------------------
def _open_tun(ns: str, dev: str) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    nsfd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(nsfd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {ns}")
    finally:
        os.close(nsfd)
    import fcntl

    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", dev.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def _wire(ns_a: str, dev_a: str, ns_b: str, dev_b: str) -> None:
    fa, fb = _open_tun(ns_a, dev_a), _open_tun(ns_b, dev_b)
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    p = dict(loss=0.0, delay=0.0, jitter=0.0, reorder=0.0, partition=False)
    stats = dict(forwarded=0, dropped=0, delayed=0)
    heap: list = []
    n = 0
    sel = selectors.DefaultSelector()
    sel.register(fa, selectors.EVENT_READ, fb)
    sel.register(fb, selectors.EVENT_READ, fa)
    sel.register(sys.stdin, selectors.EVENT_READ, None)
    print("WIRED", flush=True)
    while True:
        timeout = max(0.0, heap[0][0] - time.monotonic()) if heap else None
        for key, _ in sel.select(timeout):
            if key.data is None:
                line = sys.stdin.readline()
                if not line:
                    return
                cmd = json.loads(line)
                if cmd.get("stats"):
                    print(json.dumps(stats), flush=True)
                    continue
                p.update(cmd)
                print("OK", flush=True)
                continue
            out = key.data
            for _ in range(256):
                try:
                    pkt = os.read(key.fd, 65536)
                except BlockingIOError:
                    break
                if p["partition"] or rng.random() < p["loss"]:
                    stats["dropped"] += 1
                    continue
                d = p["delay"]
                if p["jitter"]:
                    d += rng.uniform(-p["jitter"], p["jitter"])
                if p["reorder"] and rng.random() < p["reorder"]:
                    d = 0.0  # this one overtakes the delayed ones, as netem's reorder
                if d <= 0:
                    _deliver(out, pkt, stats)
                else:
                    n += 1
                    stats["delayed"] += 1
                    heapq.heappush(heap, (time.monotonic() + d, n, out, pkt))
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _due, _n, out, pkt = heapq.heappop(heap)
            if p["partition"]:
                stats["dropped"] += 1
                continue
            _deliver(out, pkt, stats)


def _deliver(fd: int, pkt: bytes, stats: dict) -> None:
    try:
        os.write(fd, pkt)
        stats["forwarded"] += 1
    except OSError:
        stats["dropped"] += 1


if __name__ == "__main__":
    _wire(*sys.argv[1:5])
