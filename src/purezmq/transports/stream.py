"""Listening and connecting for stream transports (tcp, ipc).

A :class:`Listener` accepts connections and gives each a stream engine.  A
:class:`Session` is the connecting side: it owns the peer (so messages queued while
disconnected survive), connects, and reconnects with ``RECONNECT_IVL`` back-off whenever
its engine goes away, until the socket closes or disconnects the endpoint.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import threading

from purezmq import constants as C
from purezmq.core.endpoint import Endpoint
from purezmq.error import ZMQError
from purezmq.io.engine import StreamEngine
from purezmq.io.raw_engine import RawEngine
from purezmq.plumbing.pipe import is_message


def engine_class(owner):
    """STREAM sockets speak raw TCP; every other type speaks ZMTP."""
    return RawEngine if owner._socket_type == C.STREAM else StreamEngine


def _tune(sock: socket.socket, family: int, options) -> None:
    sock.setblocking(False)
    if family != socket.AF_UNIX:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        maxrt = options.get(C.TCP_MAXRT)
        if maxrt > 0 and hasattr(socket, "TCP_USER_TIMEOUT"):  # libzmq's Linux TCP_MAXRT
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, maxrt)
        keepalive = options.get(C.TCP_KEEPALIVE)  # -1: the OS default (libzmq)
        if keepalive != -1:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1 if keepalive else 0)
            # As libzmq 4.3: the keepalive parameters too, even with TCP_KEEPALIVE 0.
            for opt, name in (
                (C.TCP_KEEPALIVE_IDLE, "TCP_KEEPIDLE"),
                (C.TCP_KEEPALIVE_INTVL, "TCP_KEEPINTVL"),
                (C.TCP_KEEPALIVE_CNT, "TCP_KEEPCNT"),
            ):
                value = options.get(opt)
                if value > 0 and hasattr(socket, name):
                    sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    _set_tos_and_buffers(sock, family, options)


def _pre_tune(sock: socket.socket, family: int, options) -> None:
    """What libzmq sets on a tcp socket before bind() or connect() (accepted sockets
    inherit it from the listener): the device (``BINDTODEVICE``), ``TOS``, buffer sizes."""
    device = options.get(C.BINDTODEVICE)
    if device and hasattr(socket, "SO_BINDTODEVICE"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device)
    _set_tos_and_buffers(sock, family, options)


def _set_tos_and_buffers(sock: socket.socket, family: int, options) -> None:
    tos = options.get(C.TOS)
    if tos and family != socket.AF_UNIX:
        with contextlib.suppress(OSError):  # not every OS takes IP_TOS on an IPv6 socket
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
        if family == socket.AF_INET6 and hasattr(socket, "IPV6_TCLASS"):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, tos)
    for opt, name in ((C.SNDBUF, socket.SO_SNDBUF), (C.RCVBUF, socket.SO_RCVBUF)):
        value = options.get(opt)
        if value > 0:
            sock.setsockopt(socket.SOL_SOCKET, name, value)


def _peer_address(sock: socket.socket, family: int) -> str:
    if family == socket.AF_UNIX:
        return ""
    try:
        return sock.getpeername()[0]
    except OSError:
        return ""


def _os_error(e: OSError) -> ZMQError:
    code = e.errno or C.EINVAL
    return ZMQError(code)


# The ipc socket files this process listens on, by (st_dev, st_ino): a bind may take over
# the file of a listener already unbound or closed, whose I/O-thread close is pending.
_IPC_FILES: dict[tuple[int, int], Listener] = {}
_IPC_LOCK = threading.Lock()  # held while a path changes hands: bind and its removal


# The kernel's queue of connections not accepted yet is at least this long (BACKLOG, 100 by
# default, asks for more if larger).  Each accept here costs an engine's set-up in Python,
# slower than libzmq's: with libzmq's 100, a burst of connects overflowed the queue and each
# connect dropped there waited for the client's SYN retry (1 s): 1,000 connect/close in a
# row took 3-5 s.  (Linux caps the queue at net.core.somaxconn.)
ACCEPT_QUEUE_MIN = 1024
# Connections taken from the queue per readable event, before any of them is set up: the
# queue empties at the kernel's pace, not at the pace of engine set-up.
ACCEPT_BATCH = 256
# Out of descriptors (EMFILE, ENFILE) or kernel memory, accept() fails while the queue stays
# readable: libzmq's listener then spins a core.  Ours stops listening for this long,
# doubling up to ACCEPT_PAUSE_MAX while it lasts, and accepts again once one succeeds.
ACCEPT_PAUSE = 0.01
ACCEPT_PAUSE_MAX = 0.5
_ACCEPT_RESOURCE_ERRORS = frozenset(
    e for e in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM) if e is not None
)


class Listener:
    """A bound, listening socket; lives on the I/O thread once started."""

    def __init__(self, owner, ep: Endpoint) -> None:
        self.owner = owner
        self.ep = ep
        self.engines: set[StreamEngine] = set()
        self.closed = False
        self._pause = 0.0  # the current back-off while out of descriptors (see _accept)
        self._resume_timer = None
        self.released = False  # unbound: set at once by the socket, before terminate()
        family = ep.family
        self._file_id: tuple[int, int] | None = None  # (st_dev, st_ino) of our socket file
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if family == socket.AF_UNIX:
                path = ep.host
                self.endpoint = f"ipc://{ep.address}"
                if path.startswith("\0"):  # abstract namespace: no file
                    sock.bind(path)
                else:
                    with _IPC_LOCK:
                        if os.path.lexists(path):
                            self._remove_stale(path)
                        sock.bind(path)
                        st = os.stat(path)
                        self._file_id = (st.st_dev, st.st_ino)
                        _IPC_FILES[self._file_id] = self
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                _pre_tune(sock, family, owner.options)
                host = _resolve_bind(ep.host, family)
                if family == socket.AF_INET6:
                    sock.bind((host, ep.port, 0, ep.scope_id))
                else:
                    sock.bind((host, ep.port))
                addr = sock.getsockname()
                shown = f"[{addr[0]}]" if family == socket.AF_INET6 else addr[0]
                self.endpoint = f"tcp://{shown}:{addr[1]}"
            sock.listen(max(owner.options.get(C.BACKLOG), ACCEPT_QUEUE_MIN))
        except (OSError, ZMQError) as e:
            if self._file_id is not None:  # bound, then listen() failed
                self._unlink_own_file()
            sock.close()
            if ep.tmpdir:
                with contextlib.suppress(OSError):
                    os.rmdir(ep.tmpdir)
            err = e if isinstance(e, ZMQError) else _os_error(e)
            owner._event(C.EVENT_BIND_FAILED, err.errno or 0, str(ep))
            raise err from None
        sock.setblocking(False)
        self.sock = sock

    @staticmethod
    def _remove_stale(path: str) -> None:
        """Replace a socket file left by a dead process; refuse one somebody listens on.

        libzmq unlinks whatever is at the path; this keeps a live listener's socket (that
        bind fails with EADDRINUSE) and anything that is not a socket (EADDRINUSE too).
        The caller holds ``_IPC_LOCK``."""
        try:
            st = os.lstat(path)
        except OSError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            return  # bind() fails with EADDRINUSE
        holder = _IPC_FILES.get((st.st_dev, st.st_ino))
        if holder is not None:  # ours: dead once unbound or its socket closed
            if not (holder.released or holder.closed or holder.owner.closed):
                raise ZMQError(C.EADDRINUSE)
            del _IPC_FILES[holder._file_id]  # the path is ours now: its holder leaves it be
            with contextlib.suppress(OSError):
                os.unlink(path)
            return
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.setblocking(False)  # a full backlog must not block the caller
        try:
            rc = probe.connect_ex(path)
        finally:
            probe.close()
        if rc in (0, errno.EAGAIN, errno.EWOULDBLOCK, errno.EINPROGRESS):
            raise ZMQError(C.EADDRINUSE)  # somebody listens there
        with contextlib.suppress(OSError):
            os.unlink(path)

    def _unlink_own_file(self) -> None:
        """Remove our socket file, unless another socket took the path over: one of ours
        unregistered us (_remove_stale); another process's file has another inode while our
        socket, which holds ours, is open."""
        with _IPC_LOCK:
            if _IPC_FILES.get(self._file_id) is not self:
                return
            del _IPC_FILES[self._file_id]
            with contextlib.suppress(OSError):
                st = os.lstat(self.ep.host)
                if (st.st_dev, st.st_ino) == self._file_id:
                    os.unlink(self.ep.host)

    def engine_class(self):
        """The engine for each accepted connection (the ws transport has its own)."""
        return engine_class(self.owner)

    def start(self, reactor) -> None:
        self.reactor = reactor
        self.owner._io_objects.add(self)
        reactor.add_reader(self.sock.fileno(), self._accept)
        self.owner._event(C.EVENT_LISTENING, self.sock.fileno(), self.endpoint)

    def _accept(self) -> None:
        conns = []
        error = None
        try:
            for _ in range(ACCEPT_BATCH):
                conns.append(self.sock.accept()[0])
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            error = e
        owner = self.owner
        family = self.ep.family
        make_engine = self.engine_class()
        for conn in conns:
            try:
                _tune(conn, family, owner.options)
            except OSError:  # reset while it waited in the batch: nothing to set up
                conn.close()
                continue
            owner._event(C.EVENT_ACCEPTED, conn.fileno(), self.endpoint)
            engine = make_engine(
                self.reactor,
                conn,
                owner,
                self.endpoint,
                listener=self,
                peer_address=_peer_address(conn, family),
            )
            self.engines.add(engine)
        if error is None:
            self._pause = 0.0
            return
        owner._event(C.EVENT_ACCEPT_FAILED, error.errno or 0, self.endpoint)
        if error.errno in _ACCEPT_RESOURCE_ERRORS and not self.closed:
            # Stand back: the queue stays readable while nothing can be accepted.
            self._pause = min(max(self._pause * 2, ACCEPT_PAUSE), ACCEPT_PAUSE_MAX)
            self.reactor.remove_reader(self.sock.fileno())
            self._resume_timer = self.reactor.call_later(self._pause, self._resume)

    def _resume(self) -> None:
        self._resume_timer = None
        if not self.closed:
            self.reactor.add_reader(self.sock.fileno(), self._accept)

    def terminate(self, deadline: float | None) -> None:
        if self.closed:
            return
        self.closed = True
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        fd = self.sock.fileno()
        self.reactor.remove_reader(fd)
        if self._file_id is not None:
            self._unlink_own_file()  # before the close: our inode cannot be reused till then
        self.sock.close()
        if self._file_id is not None:
            if self.ep.tmpdir:
                with contextlib.suppress(OSError):
                    os.rmdir(self.ep.tmpdir)
        self.owner._event(C.EVENT_CLOSED, fd, self.endpoint)
        self.owner._io_done(self)

    def close_engines(self, deadline: float | None) -> None:
        for engine in list(self.engines):
            engine.terminate(deadline)


def _resolve_bind(host: str, family: int) -> str:
    """As libzmq: the first address of ``family`` (IPv6: IPv4 ones mapped), else ENODEV."""
    flags = socket.AI_PASSIVE
    if family == socket.AF_INET6 and hasattr(socket, "AI_V4MAPPED"):
        flags |= socket.AI_V4MAPPED
    try:
        infos = socket.getaddrinfo(host, None, family, socket.SOCK_STREAM, 0, flags)
    except (OSError, UnicodeError):  # gaierror; UnicodeError: IDNA
        raise ZMQError(errno.ENODEV) from None
    return infos[0][4][0]


class Session:
    """The connecting side of one endpoint; outlives its engines (see module docstring)."""

    def __init__(self, owner, ep: Endpoint, endpoint: str, peer=None, connect_rid=b"") -> None:
        self.owner = owner
        self.ep = ep
        self.endpoint = endpoint
        self.peer = peer
        self.connect_rid = connect_rid
        self.engine: StreamEngine | None = None
        self.closed = False
        self._sock: socket.socket | None = None
        self._timer = None
        self._ivl = owner.options.get(C.RECONNECT_IVL)
        self._connected_once = False
        self._lingering = False  # closed with messages queued, still connecting (see terminate)
        self._linger_deadline: float | None = None

    def engine_class(self):
        """The engine for each connection made (the ws transport has its own)."""
        return engine_class(self.owner)

    def start(self, reactor) -> None:
        self.reactor = reactor
        self.owner._io_objects.add(self)
        self._attempt()

    def _addresses(self):
        ep = self.ep
        if ep.family == socket.AF_UNIX:
            return [(socket.AF_UNIX, ep.host)]
        # As libzmq: IPV6=0 resolves IPv4 only (an IPv6 literal never connects); IPV6=1
        # resolves IPv6, IPv4 addresses mapped (falling back to IPv4 on a v4-only host).
        if self.owner.options.get(C.IPV6):
            try:
                infos = socket.getaddrinfo(
                    ep.host, ep.port, socket.AF_INET6, socket.SOCK_STREAM, 0,
                    getattr(socket, "AI_V4MAPPED", 0),
                )  # fmt: skip
            except socket.gaierror:
                infos = socket.getaddrinfo(ep.host, ep.port, socket.AF_INET, socket.SOCK_STREAM)
        else:
            infos = socket.getaddrinfo(ep.host, ep.port, socket.AF_INET, socket.SOCK_STREAM)
        return [(i[0], i[4]) for i in infos]

    def _bind_source(self, sock: socket.socket, family: int) -> None:
        """The source address of ``src;dst`` (numeric or an interface, as libzmq)."""
        host, port = self.ep.source
        flags = socket.AI_PASSIVE | socket.AI_NUMERICHOST
        if family == socket.AF_INET6:
            flags |= getattr(socket, "AI_V4MAPPED", 0)
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, flags)
        # libzmq allows reusing the address, to connect to several servers from one port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(infos[0][4])

    def _attempt(self) -> None:
        self._timer = None
        if self.closed:
            return
        try:
            family, addr = self._addresses()[0]
        except (OSError, IndexError, ValueError):  # ValueError: UnicodeError (IDNA) too
            self._retry()
            return
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError:  # EMFILE, EAFNOSUPPORT...
            self._retry()
            return
        sock.setblocking(False)
        try:
            if family != socket.AF_UNIX:
                _pre_tune(sock, family, self.owner.options)  # e.g. ENODEV: BINDTODEVICE
            if self.ep.source is not None:
                self._bind_source(sock, family)
        except (OSError, ValueError):  # as libzmq's connecter: give up this try, retry
            sock.close()
            self._retry()
            return
        rc = sock.connect_ex(addr)
        self._family = family
        self._sock = sock
        if rc == 0:
            self._connected()
        elif rc in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
            self.owner._event(C.EVENT_CONNECT_DELAYED, rc, self.endpoint)
            self.reactor.add_writer(sock.fileno(), self._on_connect)
            timeout = self.owner.options.get(C.CONNECT_TIMEOUT)
            if timeout > 0:  # else the kernel's SYN back-off, which grows to minutes
                self._timer = self.reactor.call_later(timeout / 1000.0, self._connect_timed_out)
        else:
            fd = sock.fileno()
            sock.close()
            self._sock = None
            self.owner._event(C.EVENT_CLOSED, fd, self.endpoint)  # as libzmq's connecter
            self._retry()

    def _connect_timed_out(self) -> None:
        """``CONNECT_TIMEOUT``: give up this attempt and retry (libzmq's connecter)."""
        self._timer = None
        sock = self._sock
        if sock is None or self.closed:
            return
        fd = sock.fileno()
        self.reactor.remove_writer(fd)
        sock.close()
        self._sock = None
        self.owner._event(C.EVENT_CLOSED, fd, self.endpoint)
        self._retry()

    def _on_connect(self) -> None:
        sock = self._sock
        if sock is None:
            return
        if self._timer is not None:  # the CONNECT_TIMEOUT timer
            self._timer.cancel()
            self._timer = None
        self.reactor.remove_writer(sock.fileno())
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            fd = sock.fileno()
            sock.close()
            self.owner._event(C.EVENT_CLOSED, fd, self.endpoint)  # as libzmq's connecter
            self._sock = None
            self._retry()
            return
        self._connected()

    def _connected(self) -> None:
        sock = self._sock
        self._sock = None
        if self.closed:
            sock.close()
            return
        _tune(sock, self._family, self.owner.options)
        self._ivl = self.owner.options.get(C.RECONNECT_IVL)
        self.owner._event(C.EVENT_CONNECTED, sock.fileno(), self.endpoint)
        self.engine = self.engine_class()(
            self.reactor,
            sock,
            self.owner,
            self.endpoint,
            session=self,
            peer_address=_peer_address(sock, self._family),
        )

    def _retry(self) -> None:
        if self.closed:
            return
        ivl = self._ivl
        if ivl < 0:
            return
        self.owner._event(C.EVENT_CONNECT_RETRIED, ivl, self.endpoint)
        self._timer = self.reactor.call_later(ivl / 1000.0, self._attempt)
        ivl_max = self.owner.options.get(C.RECONNECT_IVL_MAX)
        if ivl_max > ivl:
            self._ivl = min(ivl * 2, ivl_max)

    # -- called by the engine ----------------------------------------------------------
    @property
    def shares_fanout(self) -> bool:
        """The peer may read a publisher's shared log (plumbing/fanout.py)."""
        engine = self.engine
        return engine is not None and engine.shares_fanout

    def engine_ready(self, engine: StreamEngine, peer) -> None:
        self.peer = peer
        self._connected_once = True
        if self._lingering:  # once the engine has the peer, it flushes and lingers itself
            deadline = self._linger_deadline
            self.reactor.call_soon(lambda: self._finish(deadline))

    def engine_closed(self, engine: StreamEngine) -> None:
        if engine is self.engine:
            self.engine = None
        peer = self.peer
        if peer is not None and not peer.attached_early:
            # IMMEDIATE (or a ROUTER peer): the peer lives only as long as the connection.
            self.peer = None
            self.owner._post(self.owner._detach, peer)
        if not self.closed:
            self._retry()

    def terminate(self, deadline: float | None) -> None:
        if self.closed:
            return
        if (
            (self.engine is None or self.engine.peer is None)
            and (deadline is None or deadline > self.reactor.time())
            and self._has_queued_messages()
        ):
            # As libzmq: while the socket lingers, keep connecting so that messages queued
            # before the connection (or its handshake) completed are still delivered.
            if not self._lingering:
                self._lingering = True
                self._linger_deadline = deadline
                if deadline is not None:
                    self.reactor.call_at(deadline, lambda: self._finish(deadline))
            return
        self._finish(deadline)

    def _has_queued_messages(self) -> bool:
        peer = self.peer
        return peer is not None and any(map(is_message, peer.out.q))

    def _finish(self, deadline: float | None) -> None:
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._sock is not None:
            self.reactor.remove_writer(self._sock.fileno())
            self._sock.close()
            self._sock = None
        if self.engine is not None:
            self.engine.terminate(deadline)
        self.owner._io_done(self)
