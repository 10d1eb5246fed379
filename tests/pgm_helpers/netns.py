"""Private network namespaces for the PGM tests, so multicast never leaves them.

``Lab`` makes one or two namespaces named ``purezmq-pgm-<random>`` (and removes them in
``close``): each has ``lo`` up with multicast on and a 239.0.0.0/8 route on it; with two,
a veth pair joins them (10.X.Y.1/24 and .2/24, 239.0.0.0/8 routed over the veth; IPv6 off
unless asked for, then ULA addresses on the veth).
``inside(name)`` runs a block with the calling thread in a namespace (``setns``): sockets made
there belong to it for good, so purezmq can run in-process; helper processes are started with
``ip netns exec``.  Multicast hops are 1 and nothing is routed out of a namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import subprocess
import sys

CLONE_NEWNET = 0x40000000


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    name = "purezmq-pgm-probe-" + secrets.token_hex(3)
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode != 0:
        return f"ip netns add failed: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")


def _sysctl(ns: str, key: str, value: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}"], capture_output=True
    )


class Lab:
    """One or two namespaces; ``a``/``b`` names, ``addr_a``/``addr_b`` veth addresses."""

    def __init__(self, pair: bool = True, ipv6: bool = False) -> None:
        tag = secrets.token_hex(3)
        self.a = f"purezmq-pgm-{tag}a"
        self.b = f"purezmq-pgm-{tag}b" if pair else None
        self.names = [n for n in (self.a, self.b) if n]
        octet2, octet3 = secrets.randbelow(200) + 20, secrets.randbelow(250) + 1
        self.addr_a = f"10.{octet2}.{octet3}.1"
        self.addr_b = f"10.{octet2}.{octet3}.2"
        self.veth_a = "pzva" + tag
        self.veth_b = "pzvb" + tag
        prefix = f"fd{tag[:2]}:{int(tag[2:], 16):x}"
        self.addr6_a = f"{prefix}::1"
        self.addr6_b = f"{prefix}::2"
        made = []
        try:
            for ns in self.names:
                _ip("netns", "add", ns)
                made.append(ns)
                _sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1")
                _sysctl(ns, "net.ipv6.conf.default.disable_ipv6", "1")
                _ip("-n", ns, "link", "set", "lo", "up", "multicast", "on")
            if pair:
                _ip(
                    "-n",
                    self.a,
                    "link",
                    "add",
                    self.veth_a,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    self.veth_b,
                    "netns",
                    self.b,
                )
                for ns, dev, addr in (
                    (self.a, self.veth_a, self.addr_a),
                    (self.b, self.veth_b, self.addr_b),
                ):
                    _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
                    _ip("-n", ns, "link", "set", dev, "up", "multicast", "on")
                    _ip("-n", ns, "route", "add", "239.0.0.0/8", "dev", dev)
                if ipv6:  # ULA addresses, no duplicate address detection (no waiting)
                    for ns, dev, addr in (
                        (self.a, self.veth_a, self.addr6_a),
                        (self.b, self.veth_b, self.addr6_b),
                    ):
                        for key in ("all", "default", dev):
                            _sysctl(ns, f"net.ipv6.conf.{key}.accept_dad", "0")
                            _sysctl(ns, f"net.ipv6.conf.{key}.disable_ipv6", "0")
                        _ip("-n", ns, "-6", "addr", "add", f"{addr}/64", "dev", dev, "nodad")
            else:
                _ip("-n", self.a, "route", "add", "239.0.0.0/8", "dev", "lo")
        except Exception:
            for ns in made:
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            raise

    def close(self) -> None:
        for ns in self.names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def exec_args(self, ns: str) -> list[str]:
        return ["ip", "netns", "exec", ns]


_libc = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


@contextlib.contextmanager
def inside(ns: str):
    """Run the block with this thread in network namespace ``ns``."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)
