"""Parsing ``transport://address`` endpoints into what a transport needs, with libzmq's errnos."""

from __future__ import annotations

import errno
import os
import socket
import string
import tempfile
from dataclasses import dataclass

from purezmq import constants as C
from purezmq.error import ZMQError

TRANSPORTS = ("tcp", "ipc", "inproc", "pgm", "epgm", "udp", "ws", "wss")
KNOWN_BUT_UNSUPPORTED = ("norm", "vmci", "tipc")
IPC_PATH_MAX_LEN = 107


@dataclass
class Endpoint:
    transport: str
    address: str  # the part after ``://``
    host: str = ""
    port: int = 0
    family: int = 0
    source: tuple[str, int] | None = None
    scope_id: int = 0  # tcp bind: the zone of an IPv6 address (``[fe80::1%eth0]``)
    tmpdir: str = ""  # ipc://*: the directory made for the socket, removed with it
    path: str = ""  # ws, wss: the HTTP resource (``/`` when the endpoint names none)

    def __str__(self) -> str:
        return f"{self.transport}://{self.address}"


def split(endpoint: str) -> tuple[str, str]:
    if not isinstance(endpoint, str):
        raise TypeError(f"endpoint must be str, not {type(endpoint).__name__}")
    transport, sep, address = endpoint.partition("://")
    if not sep or not transport or not address:
        raise ZMQError(C.EINVAL, f"Invalid argument (endpoint {endpoint!r})")
    if transport not in TRANSPORTS:
        raise ZMQError(C.EPROTONOSUPPORT)
    return transport, address


def _split_hostport(address: str) -> tuple[str, str]:
    if address.startswith("["):
        host, sep, rest = address[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ZMQError(C.EINVAL)
        return host, rest[1:]
    host, sep, port = address.rpartition(":")
    if not sep:
        raise ZMQError(C.EINVAL)
    return host, port


def _port(text: str, *, wildcard_ok: bool) -> int:
    if text in ("*", "0") and wildcard_ok:
        return 0
    if not text.isascii() or "_" in text:  # int() takes "5_5" and non-ASCII digits
        raise ZMQError(C.EINVAL)
    try:
        port = int(text)
    except ValueError:
        raise ZMQError(C.EINVAL) from None
    if not 0 < port < 65536:
        raise ZMQError(C.EINVAL)
    return port


def interface_address(name: str, ipv6: bool) -> str | None:
    """The address of a network interface by name (``lo``, ``eth0``), or None if there is
    none: as libzmq's getifaddrs() lookup, the interface's first address of the family
    ``ipv6`` selects (IPv4: the primary address; IPv6: global scope before link-local)."""
    if not name or "\0" in name or not name.isascii() or len(name) >= 16:  # IFNAMSIZ
        return None
    found = _interface_address_linux(name, ipv6)
    if found is not None:
        return found or None
    try:  # no ioctl nor /proc (not Linux): only the loopback is known
        socket.if_nametoindex(name)
    except (OSError, ValueError):
        return None
    if name.startswith("lo"):
        return "::1" if ipv6 else "127.0.0.1"
    return None


def _interface_address_linux(name: str, ipv6: bool) -> str | None:
    """The address, "" if the interface has none of that family, None if this can't tell."""
    if ipv6:
        try:
            with open("/proc/net/if_inet6") as f:
                rows = [line.split() for line in f]
        except OSError:
            return None
        mine = [r for r in rows if len(r) >= 6 and r[5] == name]
        mine.sort(key=lambda r: int(r[3], 16) != 0)  # global scope first, as the kernel
        if not mine:
            return ""
        return socket.inet_ntop(socket.AF_INET6, bytes.fromhex(mine[0][0]))
    try:
        import fcntl
    except ImportError:
        return None
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        res = fcntl.ioctl(probe.fileno(), 0x8915, name.encode().ljust(40, b"\0"))  # SIOCGIFADDR
    except OSError as e:  # ENODEV: no such interface; EADDRNOTAVAIL: no IPv4 address
        return "" if e.errno in (errno.ENODEV, errno.EADDRNOTAVAIL, errno.ENXIO) else None
    finally:
        probe.close()
    return socket.inet_ntoa(res[20:24])


# What libzmq's connect() lets through (its "quick and dirty" tcp address check).
_CONNECT_CHARS = frozenset(string.ascii_letters + string.digits + ".-:%;[]_*")


def parse_tcp(address: str, *, bind: bool, ipv6: bool = False) -> Endpoint:
    family = socket.AF_INET6 if ipv6 else socket.AF_INET  # IPV6=0: IPv4 only, as libzmq
    if bind:
        return _parse_tcp_bind(address, ipv6, family)
    if (
        not set(address) <= _CONNECT_CHARS
        or not (address[0].isalnum() or address[0] in "[:")
        or not address.rpartition(":")[2][:1].isdigit()
    ):
        raise ZMQError(C.EINVAL)
    source = None
    if ";" in address:
        src, _, address = address.rpartition(";")
        shost, sport = _split_hostport(src) if ":" in src else (src, "0")
        source = (_bind_host(shost, ipv6), _port(sport, wildcard_ok=True))
    host, port_text = _split_hostport(address)
    port = _port(port_text, wildcard_ok=False)
    if not host or host == "*":
        raise ZMQError(C.EINVAL)
    _check_host(host)
    return Endpoint("tcp", address, host, port, family, source)


def _parse_tcp_bind(address: str, ipv6: bool, family: int) -> Endpoint:
    """As libzmq's resolver: host and port split at the last colon, brackets stripped, an
    IPv6 zone after ``%``; a host that is no interface nor address is ENODEV."""
    host, sep, port_text = address.rpartition(":")
    if not sep:
        raise ZMQError(C.EINVAL)
    port = _port(port_text, wildcard_ok=True)
    if len(host) >= 2 and host[0] == "[" and host[-1] == "]":
        host = host[1:-1]
    scope_id = 0
    host, pct, zone = host.rpartition("%") if "%" in host else (host, "", "")
    if pct:
        if not zone:
            raise ZMQError(C.EINVAL)
        if zone[0].isalpha():
            try:
                scope_id = socket.if_nametoindex(zone)
            except (OSError, ValueError):
                scope_id = 0
        else:
            digits = zone[: len(zone) - len(zone.lstrip("0123456789"))]  # atoi
            scope_id = int(digits) if digits else 0
        if scope_id == 0 or scope_id >= 2**32:
            raise ZMQError(C.EINVAL)
    if not host:
        raise ZMQError(errno.ENODEV)
    host = _bind_host(host, ipv6)
    return Endpoint("tcp", address, host, port, family, scope_id=scope_id)


def _bind_host(host: str, ipv6: bool) -> str:
    if host == "*":
        return "::" if ipv6 else "0.0.0.0"
    iface = interface_address(host, ipv6)
    if iface is not None:
        return iface
    _check_host(host)
    return host


def _check_host(host: str) -> None:
    """EINVAL now for a name the resolver would refuse with a non-OS error later, on the
    I/O thread (getaddrinfo encodes names with IDNA: NUL, lone surrogates, empty labels)."""
    if "\0" in host:
        raise ZMQError(C.EINVAL)
    try:
        host.encode("idna")
    except UnicodeError:
        raise ZMQError(C.EINVAL) from None


def parse_ipc(address: str, *, bind: bool) -> Endpoint:
    if address == "*" and bind:  # connect: a file named "*", as libzmq
        try:
            tmpdir = tempfile.mkdtemp(prefix="purezmq-")
        except OSError as e:  # no writable temporary directory
            raise ZMQError(e.errno or C.EINVAL) from None
        path = os.path.join(tmpdir, "socket")
        return Endpoint("ipc", path, host=path, family=socket.AF_UNIX, tmpdir=tmpdir)
    path = address
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:  # as the kernel will see it (os.fsencode); lone surrogates have no bytes
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise ZMQError(C.EINVAL) from None
    if "\0" in path and not path.startswith("\0"):  # only abstract names may hold NUL
        raise ZMQError(C.EINVAL)
    if len(raw) > IPC_PATH_MAX_LEN:
        raise ZMQError(errno.ENAMETOOLONG)
    return Endpoint("ipc", address, host=path, family=socket.AF_UNIX)


def parse(endpoint: str, *, bind: bool, ipv6: bool = False) -> Endpoint:
    transport, address = split(endpoint)
    if transport == "tcp":
        return parse_tcp(address, bind=bind, ipv6=ipv6)
    if transport == "ipc":
        return parse_ipc(address, bind=bind)
    if transport in ("pgm", "epgm"):
        from purezmq.transports.pgm import parse_address

        pgm = parse_address(transport, address)
        return Endpoint(transport, address, pgm.group, pgm.port, pgm.family)
    if transport in ("ws", "wss"):  # host:port as tcp, then the path (transports/ws.py)
        hostport, slash, path = address.partition("/")
        if not hostport:
            raise ZMQError(C.EINVAL)
        ep = parse_tcp(hostport, bind=bind, ipv6=ipv6)
        ep.transport = transport
        ep.address = address
        ep.path = slash + path if slash else "/"
        return ep
    if transport == "udp":  # resolved by purezmq.transports.udp, which knows the socket type
        return Endpoint("udp", address)
    return Endpoint("inproc", address)
