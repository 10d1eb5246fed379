"""pgm:// and epgm://: reliable multicast (PGM, RFC 3208) for PUB/XPUB and SUB/XSUB.

Endpoints are libzmq's: ``epgm://interface;group:port`` (``interface`` is a name such as
``eth0`` or ``lo``, or one of the host's addresses; it may be left out).  As in libzmq,
``bind`` and ``connect`` are the same thing, a PUB/XPUB is a PGM source and a SUB/XSUB a
receiver, and topic filtering happens at the subscriber (a PUB sends everything).

* ``epgm``: PGM inside UDP, as OpenPGM does it: the endpoint's port is the UDP port of the
  group (downstream: SPM, ODATA, RDATA, NCF), the UDP port NAKs and SPMRs are sent to at the
  source's address, and the PGM data-destination port.
* ``pgm``: PGM as IP protocol 113 on raw sockets (needs root or CAP_NET_RAW; otherwise
  ``EPROTONOSUPPORT``).

Sockets of one endpoint (all non-blocking, driven by the context's I/O thread):

* a source sends from an ephemeral port bound to the interface address, and receives
  unicast NAKs/SPMRs on ``interface-address:port``;
* a receiver receives on ``group:port`` (joined on the interface) and sends NAKs (unicast to
  the source's NLA) and SPMRs (to the group and to the sender) from an ephemeral port.

The protocol itself is in :mod:`purezmq.pgm` (no I/O there); this module moves bytes between
those objects, the sockets and the ZMQ socket's pipes.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import struct
import sys
from collections import deque
from dataclasses import dataclass

from purezmq import constants as C
from purezmq.error import ZMQError
from purezmq.pgm import packet as P
from purezmq.pgm.framing import ApduEncoder
from purezmq.pgm.receiver import Receiver
from purezmq.pgm.source import Source, window_sqns
from purezmq.plumbing.pipe import is_message

log = logging.getLogger("purezmq")

IPPROTO_PGM = 113
SENDERS = (C.PUB, C.XPUB)
RECEIVERS = (C.SUB, C.XSUB)
MIN_RX_WINDOW = 256  # packets a receiver buffers at least, whatever RATE says
_RECV_BATCH = 64
_SEND_BATCH = 256  # messages taken from the pipe at a time


# -- endpoint parsing ----------------------------------------------------------------------
@dataclass(frozen=True)
class PgmAddress:
    transport: str  # "pgm" or "epgm"
    interface: str  # as written ("" when left out)
    group: str
    port: int
    family: int


def parse_address(transport: str, address: str) -> PgmAddress:
    """``[interface;]group:port`` -> :class:`PgmAddress`; EINVAL as libzmq for bad ones."""
    network, sep, port_text = address.rpartition(":")
    if not sep or not network:
        raise ZMQError(C.EINVAL, f"Invalid argument ({transport} endpoint needs group:port)")
    try:
        port = int(port_text)
    except ValueError:
        raise ZMQError(C.EINVAL, f"Invalid argument (bad port {port_text!r})") from None
    if not 0 < port < 65536:
        raise ZMQError(C.EINVAL, f"Invalid argument (bad port {port})")
    parts = network.split(";")
    if len(parts) == 1:
        interface, group_text = "", parts[0]
    elif len(parts) == 2:
        interface, group_text = parts
    else:
        raise ZMQError(C.EINVAL, "Invalid argument (use interface;group:port)")
    if group_text.startswith("[") and group_text.endswith("]"):
        group_text = group_text[1:-1]
    try:
        group = ipaddress.ip_address(group_text)
    except ValueError:
        raise ZMQError(C.EINVAL, f"Invalid argument ({group_text!r} is no IP address)") from None
    if not group.is_multicast:
        raise ZMQError(C.EINVAL, f"Invalid argument ({group} is not a multicast address)")
    family = socket.AF_INET if group.version == 4 else socket.AF_INET6
    return PgmAddress(transport, interface, str(group), port, family)


# -- interfaces ------------------------------------------------------------------------------
def _ipv4_of(name: str) -> str | None:
    """The IPv4 address of interface ``name`` (Linux SIOCGIFADDR), or None."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return None
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        req = struct.pack("256s", name.encode()[:15])
        res = fcntl.ioctl(probe.fileno(), 0x8915, req)  # SIOCGIFADDR
        return socket.inet_ntoa(res[20:24])
    except OSError:
        return None
    finally:
        probe.close()


def _ipv6_addresses() -> list[tuple[str, int, int, str]]:
    """(address, ifindex, scope, name) of every IPv6 address (Linux /proc), best first."""
    rows = []
    try:
        with open("/proc/net/if_inet6") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 6:
                    continue
                addr = str(ipaddress.IPv6Address(bytes.fromhex(fields[0])))
                rows.append((addr, int(fields[1], 16), int(fields[3], 16), fields[5]))
    except OSError:
        return []
    rows.sort(key=lambda r: r[2] != 0)  # global scope first, then link-local
    return rows


def _route_source(group: str, port: int, family: int) -> str | None:
    """The local address the routing table picks towards ``group``."""
    probe = socket.socket(family, socket.SOCK_DGRAM)
    try:
        probe.connect((group, port))
        return probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()


def resolve_interface(addr: PgmAddress) -> tuple[str, int]:
    """(local address, interface index or 0) of the endpoint's interface; EINVAL if none."""
    name = addr.interface
    v6 = addr.family == socket.AF_INET6
    if not name:
        local = _route_source(addr.group, addr.port, addr.family)
        if local is None:
            raise ZMQError(C.EINVAL, f"Invalid argument (no route to {addr.group})")
        index = 0
        if v6:
            for a, idx, _scope, _n in _ipv6_addresses():
                if a == local.split("%")[0]:
                    index = idx
                    break
        return local.split("%")[0], index
    try:
        literal = ipaddress.ip_address(name.strip("[]").split("%")[0])
    except ValueError:
        literal = None
    if literal is not None:
        if (literal.version == 6) != v6:
            raise ZMQError(C.EINVAL, "Invalid argument (interface and group families differ)")
        local = str(literal)
        if v6:
            for a, idx, _scope, _n in _ipv6_addresses():
                if a == local:
                    return local, idx
            raise ZMQError(C.EINVAL, f"Invalid argument (no interface has address {local})")
        index = 0
        with contextlib.suppress(OSError):
            for idx, ifname in socket.if_nameindex():
                if _ipv4_of(ifname) == local:
                    index = idx
                    break
        if not index:
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.bind((local, 0))
            except OSError:
                raise ZMQError(C.EINVAL, f"Invalid argument (no interface has {local})") from None
            finally:
                probe.close()
        return local, index
    try:
        index = socket.if_nametoindex(name)
    except OSError:
        raise ZMQError(C.EINVAL, f"Invalid argument (no interface named {name!r})") from None
    if v6:
        for a, idx, _scope, _n in _ipv6_addresses():
            if idx == index:
                return a, index
        raise ZMQError(C.EINVAL, f"Invalid argument (interface {name!r} has no IPv6 address)")
    local = _ipv4_of(name)
    if local is None:
        raise ZMQError(C.EINVAL, f"Invalid argument (interface {name!r} has no IPv4 address)")
    return local, index


# -- sockets ---------------------------------------------------------------------------------------
def _multicast_options(sock: socket.socket, family: int, local: str, index: int, opts) -> None:
    hops = opts.get(C.MULTICAST_HOPS)
    loop = 1 if opts.get(C.MULTICAST_LOOP) else 0
    if family == socket.AF_INET:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, max(0, min(hops, 255)))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, loop)
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, max(0, min(hops, 255)))
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, loop)


def _join(sock: socket.socket, family: int, group: str, local: str, index: int) -> None:
    if family == socket.AF_INET:
        mreq = socket.inet_aton(group) + socket.inet_aton(local)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        if hasattr(socket, "IP_MULTICAST_ALL"):  # Linux: only the groups this socket joined
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_ALL, 0)
    else:
        mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)


def _share_port(sock: socket.socket) -> None:
    """Let other sockets of this host, in this process or another, libzmq's (OpenPGM)
    included, bind the same port: what one of them needs, whichever it set.  Linux lets two
    UDP sockets share a port when both set SO_REUSEADDR, or both SO_REUSEPORT (same user);
    OpenPGM's sockets set the one, others the other, so ours set both.  Multicast reaches
    every socket sharing the port; a unicast NAK reaches one of them (as between two
    OpenPGM sockets)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reuse_port = getattr(socket, "SO_REUSEPORT", None)
    if reuse_port is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, reuse_port, 1)


def _buffers(sock: socket.socket, opts) -> None:
    for opt, name in ((C.SNDBUF, socket.SO_SNDBUF), (C.RCVBUF, socket.SO_RCVBUF)):
        value = opts.get(opt)
        if value and value > 0:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, name, value)


def _raw_socket(family: int) -> socket.socket:
    try:
        return socket.socket(family, socket.SOCK_RAW, IPPROTO_PGM)
    except PermissionError:
        raise ZMQError(
            C.EPROTONOSUPPORT,
            "pgm:// sends PGM as IP protocol 113 and needs raw sockets (root or CAP_NET_RAW); "
            "use epgm:// (PGM over UDP) instead",
        ) from None


def _strip_ip_header(data: bytes, family: int) -> tuple[bytes, str | None] | None:
    """A raw IPv4 socket hands us the IP header too; IPv6 raw sockets do not."""
    if family != socket.AF_INET:
        return data, None
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    ihl = (data[0] & 0x0F) * 4
    if ihl < 20 or len(data) < ihl or data[9] != IPPROTO_PGM:
        return None
    if struct.unpack_from(">H", data, 6)[0] & 0x1FFF:
        return None  # a fragment
    return data[ihl:], socket.inet_ntoa(data[12:16])


# -- the session ---------------------------------------------------------------------------------
class PgmSession:
    """One pgm/epgm endpoint of a socket: its UDP or raw sockets, the PGM engine, its peer."""

    def __init__(self, owner, addr: PgmAddress, endpoint: str) -> None:
        self.owner = owner
        self.addr = addr
        self.endpoint = endpoint
        self.closed = False
        self.reactor = None
        self._timer = None
        self._timer_when: float | None = None
        self._lingering = False
        self._linger_deadline: float | None = None
        self._sockets: list[socket.socket] = []
        self.raw = addr.transport == "pgm"
        self.is_source = owner._socket_type in SENDERS
        opts = owner.options
        family = addr.family
        self.family = family
        v6 = family == socket.AF_INET6
        rate = opts.get(C.RATE)
        if rate <= 0:
            raise ZMQError(C.EINVAL, "Invalid argument (RATE must be positive)")
        max_tpdu = opts.get(C.MULTICAST_MAXTPDU)
        self.max_tsdu = P.max_tsdu(max_tpdu, ipv6=v6, udp=not self.raw)
        if self.max_tsdu < 16:
            raise ZMQError(C.EINVAL, "Invalid argument (MULTICAST_MAXTPDU too small)")
        self.local, self.index = resolve_interface(addr)
        self.group_port = 0 if self.raw else addr.port
        try:
            self._open_sockets(opts)
        except ZMQError:
            self._close_sockets()
            raise
        except OSError as e:
            self._close_sockets()
            raise ZMQError(e.errno or C.EINVAL, f"{addr.transport}: {e.strerror or e}") from None
        now = owner.ctx._get_reactor().time()
        window = window_sqns(rate, opts.get(C.RECOVERY_IVL), max_tpdu)
        self.peer = owner._new_peer(endpoint)
        self.peer.session = self
        if self.is_source:
            sport = addr.port
            while sport == addr.port:
                sport = int.from_bytes(os.urandom(2), "big") or 1
            overhead = (40 if v6 else 20) + (0 if self.raw else 8)
            self.source = Source(
                gsi=os.urandom(6),
                sport=sport,
                dport=addr.port,
                nla=self.local,
                group=addr.group,
                max_tsdu=self.max_tsdu,
                window=window,
                rate_bytes=rate * 1000 / 8,
                header_overhead=overhead,
                now=now,
            )
            self.encoder = ApduEncoder(self.max_tsdu)
            self.pending: deque[bytes] = deque()
            self.peer.out.on_readable = self._out_ready
        else:
            self.receiver = Receiver(
                dport=addr.port,
                group=addr.group,
                max_window=max(window, MIN_RX_WINDOW),
                max_msg_size=opts.get(C.MAXMSGSIZE),
            )
            self.backlog: deque[list] = deque()
            self.paused = False
            self.peer.out.on_readable = _discard
            self.peer.inp.on_writable = self._inp_writable
        self.stats = {"bad_packets": 0, "send_errors": 0}

    # -- sockets ---------------------------------------------------------------------------------
    def _open_sockets(self, opts) -> None:
        addr, family, local = self.addr, self.family, self.local
        if self.raw:
            raw = _raw_socket(family)
            self._sockets.append(raw)
            raw.setblocking(False)
            _buffers(raw, opts)
            _multicast_options(raw, family, local, self.index, opts)
            if not self.is_source:
                _join(raw, family, addr.group, local, self.index)
            self.tx = self.rx = raw
            return
        tx = socket.socket(family, socket.SOCK_DGRAM)
        self._sockets.append(tx)
        tx.setblocking(False)
        _buffers(tx, opts)
        _multicast_options(tx, family, local, self.index, opts)
        tx.bind(self._sockaddr(local, 0))
        self.tx = tx
        rx = socket.socket(family, socket.SOCK_DGRAM)
        self._sockets.append(rx)
        rx.setblocking(False)
        _share_port(rx)
        _buffers(rx, opts)
        if self.is_source:
            # unicast NAKs and SPMRs come to the source's own address and the port
            rx.bind(self._sockaddr(local, addr.port))
        else:
            # On POSIX, binding to the group keeps other groups on the same port out.
            wildcard = "::" if family == socket.AF_INET6 else ""
            rx.bind(self._sockaddr(addr.group if sys.platform != "win32" else wildcard, addr.port))
            _join(rx, family, addr.group, local, self.index)
        self.rx = rx

    def _sockaddr(self, host: str, port: int):
        if self.family == socket.AF_INET6:
            ip = ipaddress.ip_address(host) if host not in ("", "::") else None
            scope = self.index if ip is not None and (ip.is_link_local or ip.is_multicast) else 0
            return (host, port, 0, scope)
        return (host, port)

    def _close_sockets(self) -> None:
        for s in self._sockets:
            with contextlib.suppress(OSError):
                s.close()
        self._sockets = []

    def _send(self, data: bytes, host: str | None) -> None:
        try:
            self.tx.sendto(data, self._sockaddr(host or self.addr.group, self.group_port))
        except (BlockingIOError, InterruptedError):
            self.stats["send_errors"] += 1  # the network lost it; NAKs will ask again
        except OSError as e:
            self.stats["send_errors"] += 1
            log.debug("purezmq: %s send failed: %s", self.endpoint, e)

    # -- life cycle (I/O thread) ----------------------------------------------------------------
    def start(self, reactor) -> None:
        self.reactor = reactor
        if self.closed:
            return
        seen = set()
        for s in (self.rx, self.tx):
            if s.fileno() in seen:
                continue
            seen.add(s.fileno())
            reactor.add_reader(s.fileno(), lambda s=s: self._on_readable(s))
        if self.is_source:
            self._pump()
        else:
            self._reschedule()

    def terminate(self, deadline: float | None) -> None:
        """Close (socket closed, or endpoint removed): a source first flushes what it has."""
        if self.closed:
            return
        if self.is_source and self.reactor is not None:
            self._pump()
            now = self.reactor.time()
            if (self.pending or len(self.peer.out)) and (deadline is None or deadline > now):
                self._linger_deadline = deadline
                self._lingering = True
                return
        self._finish()

    def _finish(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.is_source and self.reactor is not None:
            for spm in self.source.fin():
                self._send(spm, None)
        if self.reactor is not None:
            for s in self._sockets:
                with contextlib.suppress(Exception):
                    self.reactor.remove_reader(s.fileno())
        self._close_sockets()
        self.owner._io_done(self)

    def peer_closed(self, peer) -> None:
        """The socket dropped our peer (disconnect/close): stop the endpoint."""
        reactor = self.reactor or self.owner.ctx._reactor
        if reactor is not None:
            reactor.call_soon_threadsafe(lambda: self.terminate(0.0))

    # -- timers ------------------------------------------------------------------------------------
    def _reschedule(self, extra: float | None = None) -> None:
        if self.closed or self.reactor is None:
            return
        engine = self.source if self.is_source else self.receiver
        when = engine.next_timer()
        if extra is not None and (when is None or extra < when):
            when = extra
        if when == self._timer_when and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_when = when
        if when is not None:
            self._timer = self.reactor.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_when = None
        if self.closed:
            return
        now = self.reactor.time()
        if self.is_source:
            for spm in self.source.poll(now):
                self._send(spm, None)
            self._pump()
            return
        messages, packets = self.receiver.poll(now)
        for host, data in packets:
            self._send(data, host)
        if messages:
            self._deliver(messages)
        self._reschedule()

    # -- sending (source) -------------------------------------------------------------------------
    def _out_ready(self, pipe) -> None:
        """``on_readable`` of the outbound pipe, in the ZMQ socket's thread."""
        reactor = self.reactor or self.owner.ctx._reactor
        if reactor is not None:
            reactor.call_soon_threadsafe(self._pump)

    def _pump(self) -> None:
        if self.closed or self.reactor is None:
            return
        source = self.source
        now = self.reactor.time()
        pending = self.pending
        wait = None
        while True:
            if not pending:
                batch = []
                out = self.peer.out
                while len(batch) < _SEND_BATCH:
                    item = out.read()
                    if item is None:
                        break
                    if is_message(item):
                        batch.append(item)
                if not batch:
                    break
                pending.extend(self.encoder.encode(batch))
            tsdu = pending[0]
            if not source.can_send(len(tsdu), now):
                wait = source.send_ready_at(len(tsdu), now)
                break
            pending.popleft()
            pkt = source.odata(tsdu, now)
            if pkt is not None:
                self._send(pkt, None)
        if self._lingering and not pending and not len(self.peer.out):
            self._finish()
            return
        if self._lingering:
            deadline = self._linger_deadline
            if deadline is not None and now >= deadline:
                self._finish()
                return
            if deadline is not None and (wait is None or deadline < wait):
                wait = deadline
        self._reschedule(wait)

    # -- receiving ---------------------------------------------------------------------------------
    def _on_readable(self, sock: socket.socket) -> None:
        if self.closed:
            return
        now = self.reactor.time()
        messages: list = []
        for _ in range(_RECV_BATCH):
            try:
                data, src = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            src_host = src[0] if src else None
            if self.raw:
                stripped = _strip_ip_header(data, self.family)
                if stripped is None:
                    continue
                data, ip_src = stripped
                src_host = ip_src or src_host
            try:
                pkt = P.parse(data)
            except P.PgmError:
                self.stats["bad_packets"] += 1
                continue
            if self.is_source:
                for reply in self.source.on_packet(pkt, now):
                    self._send(reply, None)
            else:
                msgs, packets = self.receiver.on_packet(pkt, src_host, now)
                messages.extend(msgs)
                for host, out in packets:
                    self._send(out, host)
            if not self.is_source and self.paused:
                break
        if self.is_source:
            for rdata in self.source.rdata():
                self._send(rdata, None)
            self._reschedule()
            return
        if messages:
            self._deliver(messages)
        self._reschedule()

    def _deliver(self, messages: list) -> None:
        inp = self.peer.inp
        backlog = self.backlog
        for msg in messages:
            if backlog or inp.full():
                backlog.append(msg)
            else:
                inp.write(msg)
        if backlog and not self.paused:
            # As libzmq's pgm_receiver at the high-water mark: stop reading until the
            # application catches up; the network (and NAKs) keep the rest.
            self.paused = True
            self.reactor.remove_reader(self.rx.fileno())

    def _inp_writable(self, pipe) -> None:
        """``on_writable`` of the inbound pipe, in the ZMQ socket's thread."""
        reactor = self.reactor or self.owner.ctx._reactor
        if reactor is not None:
            reactor.call_soon_threadsafe(self._resume)

    def _resume(self) -> None:
        if self.closed:
            return
        inp = self.peer.inp
        backlog = self.backlog
        while backlog and not inp.full():
            inp.write(backlog.popleft())
        if not backlog and self.paused:
            self.paused = False
            self.reactor.add_reader(self.rx.fileno(), lambda: self._on_readable(self.rx))


def _discard(pipe) -> None:
    """A receiver's outbound pipe (subscriptions, XSUB sends): PGM has no upstream for them."""
    pipe.q.clear()
    pipe.armed = True


# -- entry point from SocketBase.bind / connect ------------------------------------------------
def attach(sock, ep, endpoint: str) -> PgmSession:
    """``bind`` or ``connect`` (the same for PGM) a PUB/XPUB/SUB/XSUB to a pgm endpoint."""
    if sock._socket_type not in SENDERS + RECEIVERS:
        raise ZMQError(C.ENOCOMPATPROTO)
    addr = parse_address(ep.transport, ep.address)
    session = PgmSession(sock, addr, endpoint)
    peer = session.peer
    sock._attach(peer)
    subscribe_all = getattr(sock.pattern, "subscribe_all", None)
    if session.is_source and subscribe_all is not None and peer.attached:
        # libzmq attaches multicast pipes "subscribed to all": the subscriber filters.
        subscribe_all(peer)
    sock._endpoints.setdefault(endpoint, []).append(session)
    sock._last_endpoint = endpoint
    reactor = sock.ctx._get_reactor()
    with sock._io_lock:
        sock._io_objects.add(session)
    reactor.call_soon_threadsafe(lambda: session.start(reactor))
    return session


def sessions(sock) -> list[PgmSession]:
    """The pgm/epgm endpoints of ``sock`` (tests use them to reach the loss hooks)."""
    found = []
    for objs in sock._endpoints.values():
        for obj in objs:
            if isinstance(obj, PgmSession) and obj not in found:
                found.append(obj)
    return found


__all__ = ["PgmAddress", "PgmSession", "attach", "parse_address", "resolve_interface", "sessions"]
