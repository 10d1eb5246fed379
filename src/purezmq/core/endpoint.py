"""Parsing ``transport://address`` endpoints into what a transport needs, with libzmq's errnos."""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from dataclasses import dataclass

from purezmq import constants as C
from purezmq.error import ZMQError

TRANSPORTS = ("tcp", "ipc", "inproc", "pgm", "epgm")
KNOWN_BUT_UNSUPPORTED = ("norm", "udp", "vmci", "tipc", "ws", "wss")
IPC_PATH_MAX_LEN = 107


@dataclass
class Endpoint:
    transport: str
    address: str  # the part after ``://``
    host: str = ""
    port: int = 0
    family: int = 0
    source: tuple[str, int] | None = None

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
    """The address of a network interface by name (``lo``), or None if there is none."""
    try:
        socket.if_nametoindex(name)
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return None
    if name == "lo" or name.startswith("lo"):
        return "::1" if ipv6 else "127.0.0.1"
    return None


def parse_tcp(address: str, *, bind: bool, ipv6: bool = False) -> Endpoint:
    source = None
    if not bind and ";" in address:
        src, _, address = address.partition(";")
        shost, sport = _split_hostport(src) if ":" in src else (src, "0")
        source = (_bind_host(shost, ipv6), _port(sport, wildcard_ok=True))
    host, port_text = _split_hostport(address)
    port = _port(port_text, wildcard_ok=bind)
    if not host:
        raise ZMQError(C.EINVAL)
    if bind:
        host = _bind_host(host, ipv6)
    elif host == "*":
        raise ZMQError(C.EINVAL)
    else:
        _check_host(host)
    family = socket.AF_INET6 if ":" in host else (socket.AF_INET6 if ipv6 else socket.AF_INET)
    return Endpoint("tcp", address, host, port, family, source)


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
    if address == "*":
        if not bind:
            raise ZMQError(C.EINVAL)
        path = os.path.join(tempfile.mkdtemp(prefix="purezmq-"), "socket")
        return Endpoint("ipc", path, host=path, family=socket.AF_UNIX)
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
    return Endpoint("inproc", address)
