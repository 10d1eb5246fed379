"""udp:// for RADIO (connect) and DISH (bind), in libzmq's datagram format.

One datagram is one message: a byte holding the group's length, the group, then the body
(libzmq's ``udp_engine.cpp``).  There is no handshake, no connection and no reconnection.
A RADIO's udp peer takes every message, whatever its group, and the DISH keeps those of the
groups it joined; a DISH's JOINs and LEAVEs go nowhere (as libzmq, which drops them).

Addresses, as libzmq's ``udp_address_t`` resolves them:

* ``udp://host:port``: for a RADIO, where to send (a name is looked up); for a DISH, the
  address to bind (``*`` for all interfaces, or an interface name such as ``lo``).  A DISH
  may bind port ``*`` or ``0`` (any free port: a purezmq extension, shown in
  ``LAST_ENDPOINT``).
* ``udp://group:port`` with a multicast group: a RADIO sends to it (``MULTICAST_HOPS`` and
  ``MULTICAST_LOOP`` apply), a DISH binds the port on all interfaces and joins the group.
* ``udp://iface;group:port``: the same through one interface (its address, ``*`` or its
  name); the group must then be multicast.

A RADIO writes each datagram from the sending thread as the message is queued: ``sendto``
on a datagram socket does not block, and a datagram the kernel refuses (buffer full, too
large) is dropped, as UDP drops it.  A DISH reads on the I/O thread and drops datagrams
that find its queue at ``RCVHWM``.  libzmq reads at most 8192 bytes per datagram, so larger
messages only reach purezmq dishes.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from dataclasses import dataclass

from purezmq import constants as C
from purezmq._compat import SO_BINDTODEVICE, if_nametoindex, zmq_errno
from purezmq.core.endpoint import _port, interface_address
from purezmq.error import ZMQError
from purezmq.plumbing.pipe import Pipe, _nothing

MAX_DATAGRAM = 65535
READ_BATCH = 64  # datagrams per wake-up of the I/O thread, at most


@dataclass
class UdpAddress:
    """A resolved udp:// address (see the module docstring)."""

    family: int
    target: tuple  # where a RADIO sends; for a DISH the group, or what it binds
    bind: tuple  # where a DISH binds
    multicast: bool
    iface: str = ""  # the interface's address for multicast ("": the kernel chooses)
    iface_index: int = 0  # the interface's index (IPv6 multicast)


def _fail(bindable: bool) -> ZMQError:
    # libzmq's ip_resolver: a name that does not resolve is ENODEV to bind, EINVAL to connect
    return ZMQError(errno.ENODEV if bindable else C.EINVAL)


def _host(host: str, *, bindable: bool, dns: bool, nic: bool, ipv6: bool) -> tuple[int, str]:
    """``(family, address)`` of one host part, as libzmq's ``ip_resolver_t``."""
    if len(host) >= 2 and host[0] == "[" and host[-1] == "]":
        host = host[1:-1]
    if host == "*":
        if not bindable:
            raise ZMQError(C.EINVAL)
        return (socket.AF_INET6, "::") if ipv6 else (socket.AF_INET, "0.0.0.0")
    if not host or "\0" in host or "%" in host:
        raise _fail(bindable)
    families = (socket.AF_INET, socket.AF_INET6) if ipv6 else (socket.AF_INET,)
    for family in families:
        try:
            socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return family, host
    if nic:
        found = interface_address(host, ipv6)
        if found is not None:
            return (socket.AF_INET6 if ":" in found else socket.AF_INET), found
    if dns:
        try:
            host.encode("idna")
            infos = socket.getaddrinfo(
                host, None, socket.AF_UNSPEC if ipv6 else socket.AF_INET, socket.SOCK_DGRAM
            )
        except (OSError, UnicodeError, ValueError):
            raise _fail(bindable) from None
        for info in infos:
            if info[0] in families:
                return info[0], info[4][0]
    raise _fail(bindable)


def resolve(address: str, *, bind: bool, ipv6: bool = False, dns: bool = True) -> UdpAddress:
    """Resolve the part after ``udp://`` for a DISH (``bind``) or a RADIO, with libzmq's
    errnos (``dns=False`` refuses names that need a lookup: the tests use it)."""
    iface = None
    if ";" in address:
        iface, _, address = address.rpartition(";")
    host, sep, port_text = address.rpartition(":")
    if not sep:
        raise ZMQError(C.EINVAL)
    port = _port(port_text, wildcard_ok=bind)
    family, ip = _host(host, bindable=bind, dns=dns and not bind, nic=bind, ipv6=ipv6)
    multicast = ipaddress.ip_address(ip).is_multicast
    iface_ip = ""
    iface_index = 0
    if iface is not None:
        ifamily, iface_ip = _host(iface, bindable=True, dns=False, nic=True, ipv6=ipv6)
        if ipaddress.ip_address(iface_ip).is_multicast or not multicast:
            raise ZMQError(C.EINVAL)  # a source must be unicast, a target then multicast
        if ifamily != family:
            raise ZMQError(C.EINVAL)
        if iface != "*":
            try:
                iface_index = if_nametoindex(iface)
            except (OSError, ValueError):
                iface_index = -1
        bind_to = (iface_ip, port)
    elif multicast or not bind:
        bind_to = ("::" if family == socket.AF_INET6 else "0.0.0.0", port)
    else:
        bind_to = (ip, port)
    if ipv6 and multicast and family == socket.AF_INET6 and iface_index < 0:
        raise ZMQError(errno.ENODEV)  # IPv6 multicast needs an interface by name
    if iface_ip in ("0.0.0.0", "::"):
        iface_ip = ""
    return UdpAddress(family, (ip, port), bind_to, multicast, iface_ip, max(iface_index, 0))


def _last_endpoint(address: str, port: int) -> str:
    """The endpoint as given, with a wildcard port replaced by the one bound."""
    head, _, port_text = address.rpartition(":")
    if port_text in ("*", "0"):
        return f"udp://{head}:{port}"
    return f"udp://{address}"


class UdpSession:
    """One udp endpoint of a socket: its datagram socket and its peer (see the module
    docstring).  Created in the socket's thread; a DISH's reading runs on the I/O thread."""

    all_groups = True  # RADIO: this peer takes every message (libzmq's subscribe_to_all)

    def __init__(self, owner, addr: UdpAddress, address: str, *, sending: bool) -> None:
        self.owner = owner
        self.addr = addr
        self.sending = sending
        self.closed = False
        self.reactor = None
        self.dropped = 0  # datagrams not sent, or not delivered (queue full)
        opts = owner.options
        sock = socket.socket(addr.family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            device = opts.get(C.BINDTODEVICE)
            if device and SO_BINDTODEVICE is not None:
                sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, device)
            if sending:
                if addr.multicast:
                    self._multicast_out(sock, opts)
                self.endpoint = f"udp://{address}"
            else:
                self._bind(sock)
                self.endpoint = _last_endpoint(address, sock.getsockname()[1])
        except OSError as e:
            sock.close()
            raise ZMQError(zmq_errno(e.errno) or C.EINVAL) from None
        self.sock = sock
        self.fd = sock.fileno()
        peer = owner._new_peer(self.endpoint)
        peer.session = self
        peer.out.on_readable = self._on_outbound if sending else self._discard
        self.peer = peer

    # -- setting up ------------------------------------------------------------------------
    def _multicast_out(self, sock: socket.socket, opts) -> None:
        addr = self.addr
        loop = 1 if opts.get(C.MULTICAST_LOOP) else 0
        hops = opts.get(C.MULTICAST_HOPS)
        if addr.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, loop)
            if hops > 0:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
            if addr.iface_index > 0:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, addr.iface_index)
            return
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, loop)
        if hops > 0:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, hops)
        if addr.iface:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr.iface))

    def _bind(self, sock: socket.socket) -> None:
        addr = self.addr
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if addr.multicast and hasattr(socket, "SO_REUSEPORT"):
            # Several dishes of one group on one port all receive its datagrams.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        rcvbuf = self.owner.options.get(C.RCVBUF)
        if rcvbuf > 0:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if not addr.multicast:
            sock.bind(addr.bind)
            return
        # As libzmq: multicast binds the port on all interfaces; the membership names one.
        sock.bind(("::" if addr.family == socket.AF_INET6 else "0.0.0.0", addr.bind[1]))
        group = addr.target[0]
        if addr.family == socket.AF_INET6:
            mreq = socket.inet_pton(socket.AF_INET6, group) + addr.iface_index.to_bytes(4, "little")
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        else:
            iface = socket.inet_aton(addr.iface or "0.0.0.0")
            sock.setsockopt(
                socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + iface
            )

    def start(self, reactor) -> None:
        """On the I/O thread: a DISH starts reading."""
        self.reactor = reactor
        if not self.closed and not self.sending:
            reactor.add_reader(self.fd, self._on_readable)

    # -- sending (RADIO; in the socket's thread, which is the pipe's only writer) ----------
    def _on_outbound(self, pipe: Pipe) -> None:
        q = pipe.q
        sock = self.sock
        dest = self.addr.target
        while True:
            while q:
                item = q.popleft()
                if item.__class__ is not list or len(item) != 2:
                    continue
                group, body = item
                try:
                    sock.sendto(b"".join((bytes((len(group),)), group, body)), dest)
                except (OSError, ValueError):  # full, too large, or closed meanwhile
                    self.dropped += 1
            if not pipe.rearm():
                return

    @staticmethod
    def _discard(pipe: Pipe) -> None:
        """A DISH's JOINs and LEAVEs: udp has nobody to tell."""
        while True:
            pipe.q.clear()
            if not pipe.rearm():
                return

    # -- receiving (DISH; on the I/O thread) -----------------------------------------------
    def _on_readable(self) -> None:
        batch = []
        recv = self.sock.recv
        for _ in range(READ_BATCH):
            try:
                data = recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            if not data:
                continue
            size = data[0]
            if len(data) - 1 < size:
                continue  # truncated: not a message (libzmq ignores it too)
            batch.append([data[1 : 1 + size], data[1 + size :]])
        if not batch:
            return
        inp = self.peer.inp
        if inp.hwm:
            room = inp.hwm - len(inp.q)
            if room < len(batch):
                self.dropped += len(batch) - max(room, 0)
                batch = batch[: max(room, 0)]
                if not batch:
                    return
        inp.write_many(batch)

    # -- closing ---------------------------------------------------------------------------
    def terminate(self, deadline: float | None) -> None:
        """On the I/O thread: the socket closed, or the endpoint was removed."""
        if self.closed:
            return
        self.closed = True
        self.peer.out.on_readable = _nothing
        if self.reactor is not None and not self.sending:
            self.reactor.remove_reader(self.fd)
        with contextlib.suppress(OSError):
            self.sock.close()
        self.owner._io_done(self)


def attach(sock, ep, endpoint: str, *, bind: bool) -> UdpSession:
    """A DISH's ``bind`` or a RADIO's ``connect`` to a udp endpoint (anything else:
    ``ENOCOMPATPROTO``, as libzmq)."""
    if sock._socket_type != (C.DISH if bind else C.RADIO):
        raise ZMQError(C.ENOCOMPATPROTO)
    addr = resolve(ep.address, bind=bind, ipv6=bool(sock.options.get(C.IPV6)))
    session = UdpSession(sock, addr, ep.address, sending=not bind)
    reactor = sock._get_io_reactor()
    sock._io_add(session)
    sock._attach(session.peer)
    sock._endpoints.setdefault(endpoint, []).append(session)
    if session.endpoint != endpoint:
        sock._endpoints.setdefault(session.endpoint, []).append(session)
    sock._last_endpoint = session.endpoint
    reactor.call_soon_threadsafe(lambda: session.start(reactor))
    return session


__all__ = ["UdpAddress", "UdpSession", "attach", "resolve"]
