"""The socket core: the non-blocking heart of a socket, shared by the sync and async APIs.

Theory of operation.  A socket lives in its caller's thread (sockets are not thread-safe,
as in libzmq).  Other threads reach it only through

* its pipes (lock-free, see :mod:`purezmq.plumbing.pipe`): an inbound pipe going non-empty
  appends its peer to the socket's *ready* deque and wakes the socket's waiters;
* its *mailbox*: a deque of calls (attach this peer, detach that one) that the I/O thread
  posts and the socket runs at the start of its next operation, as libzmq's
  ``process_commands`` does, so pattern state is only ever touched by the socket's thread.
* its set of I/O objects (listeners, sessions, engines: ``_io_objects``), which both
  threads change (the caller's ``bind``/``connect`` add, the I/O thread adds engines and
  removes what ends) and which decides when a closed socket is reaped: every access holds
  ``_io_lock`` (:meth:`SocketBase._io_add`, :meth:`SocketBase._io_done`, the copy that
  ``close`` hands to the I/O thread), so the check "closed and nothing left" cannot pass
  while an object is being added, with or without the GIL.  Connections are added once
  each, so this lock is never on a per-message path.

``try_send`` / ``try_recv`` never block; the blocking API waits on a :class:`Waiter` with
the deadline from ``SNDTIMEO`` / ``RCVTIMEO``; asyncio and ``Poller`` register their own
wake callbacks on the same list.
"""

from __future__ import annotations

import errno
import functools
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from purezmq import constants as C
from purezmq.core import addresses
from purezmq.core.options import READ_ONLY, WRITE_ONLY, Options, check_value
from purezmq.error import Again, ContextTerminated, ZMQError
from purezmq.patterns import draft as _draft  # noqa: F401 (adds the draft types to PATTERNS)
from purezmq.patterns.strategies import ReadyQueue
from purezmq.patterns.types import PATTERNS
from purezmq.plumbing.pipe import ConflatePipe, Peer, Pipe, as_frames
from purezmq.plumbing.waiter import Waiter
from purezmq.security import SECURITY_OPTIONS, get_security_option, set_security_option

_NOTHING = object()
_COMBINED_STATE = sys.version_info < (3, 13)  # see SocketBase.__init__
_DONTWAIT = int(C.DONTWAIT)
_POLLIN = int(C.POLLIN)
_POLLOUT = int(C.POLLOUT)
_EVENT = struct.Struct("<HI")


_get_host: Callable | None = None


def _load_get_host() -> Callable:
    """io.host's ``get_host``, imported at the first blocking receive rather than at
    ``import purezmq`` (import time), then kept in ``_get_host`` (no import per call)."""
    global _get_host
    from purezmq.io.host import get_host

    _get_host = get_host
    return get_host


class SocketBase:
    """The state of one socket; see the module docstring."""

    # The public instance attributes (a facade takes no undeclared public attribute).  Not
    # class attributes: a class attribute of an instance attribute's name slows every
    # lookup of it (CPython does not specialise a shadowed name).
    PUBLIC_ATTRIBUTES = frozenset(
        {"ctx", "type_name", "options", "peers", "pattern", "closed", "copy_threshold"}
    )
    ctx: Any
    type_name: str
    options: Options
    peers: list[Peer]
    pattern: Any
    closed: bool

    def __init__(self, ctx, socket_type: int) -> None:
        try:
            pattern_cls = PATTERNS[socket_type]
        except KeyError:
            raise ZMQError(C.EINVAL) from None
        # The core: the object the I/O side, the patterns, the context and the inproc names
        # hold.  A facade (``purezmq.Socket``) shares its instance dictionary, so its hot
        # paths read the same state with no indirection, but nothing inside purezmq holds
        # the facade: a socket the program drops is collected and closed (its __del__),
        # while the core lingers as long as its I/O objects need it.
        # (The dictionary is shared once the state is set, below: made then, it keeps the
        # class's shared key layout, which attribute and method lookups are fastest with.)
        self.ctx = ctx
        self._socket_type = socket_type
        self.type_name = pattern_cls.name
        self.options = Options()
        self._ready = ReadyQueue()
        self._mailbox: deque = deque()
        self._waiters: tuple[Callable[[], None], ...] = ()
        self._waiter = Waiter()
        self._io_objects: set = set()
        self._io_lock = threading.Lock()
        self.peers: list[Peer] = []
        self._endpoints: dict[str, list] = {}
        self._rx: list | None = None  # frames of a message being read frame by frame
        self._tx: list = []  # frames of a message being sent with SNDMORE
        self._rcvmore = False
        self.closed = False
        self._last_endpoint = ""
        self._monitor = None
        self._host_sig = None
        self._host = None  # the Host kept between blocking receives (io/host.py get_host)
        self._peers_version = 0  # bumped on attach/detach: hosting re-evaluates
        self._last_direct = 0.0  # last write from this thread (io/engine.py)
        self._monitor_mask = 0
        self._monitor_lock = threading.Lock()
        self._signaler = None  # the FD option's signal, made on first getsockopt(FD)
        self._io_reactor = None  # where this socket's connections run (first bind/connect)
        if type(self) is SocketBase:
            core = self
        else:
            core = object.__new__(SocketBase)
            state = self.__dict__
            if _COMBINED_STATE:
                # CPython 3.11-3.12 look attributes up quickly in a plain (combined) dictionary,
                # not in the split one made of an object's inline values (3.13 does both).
                state = dict(state)
                self.__dict__ = state
            core.__dict__ = state
            addresses.register(self)  # (weakly) for shadow-by-address of the facade
        addresses.register(core)
        self._core = core
        self.pattern = pattern_cls(core)

    # -- cross-thread plumbing ---------------------------------------------------------
    @property
    def last_peer(self) -> Peer | None:
        """The peer the last message came from."""
        return self._ready.last

    def _post(self, fn, *args) -> None:
        """Run ``fn(*args)`` in the socket's thread at its next operation."""
        self._mailbox.append((fn, args))
        self._notify()

    def _process(self) -> None:
        mb = self._mailbox
        while mb:
            # Run, then pop: a KeyboardInterrupt (Ctrl-C lands in this thread) between the
            # two repeats a command next time, which is harmless (they are idempotent);
            # popping first could lose an attach, leaving a connection nobody reads.
            fn, args = mb[0]
            fn(*args)
            mb.popleft()

    def _notify(self) -> None:
        for wake in self._waiters:
            wake()

    def add_waiter(self, *wakes: Callable[[], None]) -> None:
        self._waiters = (*self._waiters, *wakes)

    def _remove_waiters(self, *wakes: Callable[[], None]) -> None:
        """Undo an ``add_waiter(*wakes)``; the common case (still last) without a search."""
        ws = self._waiters
        if ws[-len(wakes):] == wakes:
            self._waiters = ws[: -len(wakes)]
        else:
            for wake in wakes:
                self.remove_waiter(wake)

    def remove_waiter(self, wake: Callable[[], None]) -> None:
        waiters = list(self._waiters)
        try:
            waiters.remove(wake)
        except ValueError:
            return
        self._waiters = tuple(waiters)

    def _activate(self, peer: Peer, pipe: Pipe) -> None:
        """``on_readable`` of an inbound pipe: the peer has a message for us."""
        self._ready.append(peer)
        for wake in self._waiters:
            wake()

    def _writable(self, pipe: Pipe) -> None:
        """``on_writable`` of an outbound pipe: it drained below its low-water mark."""
        for wake in self._waiters:
            wake()

    # -- peers ---------------------------------------------------------------------------
    def _new_peer(self, endpoint: str, inp: Pipe | None = None, out: Pipe | None = None) -> Peer:
        opts = self.options
        kind = ConflatePipe if opts.get(C.CONFLATE) else Pipe
        if inp is None:
            inp = kind(opts.get(C.RCVHWM))
        if out is None:
            out = kind(opts.get(C.SNDHWM))
        peer = Peer(inp, out, endpoint)
        inp.armed = False  # armed when the socket attaches it
        core = self._core
        inp.on_readable = functools.partial(core._activate, peer)
        out.on_writable = core._writable
        return peer

    def _attach(self, peer: Peer) -> None:
        if peer.attached:  # a repeated command (see _process)
            return
        if self.closed:
            self._terminate_peer(peer)
            return
        if not self.pattern.attach(peer):
            self._terminate_peer(peer)
            return
        peer.attached = True
        self.peers.append(peer)
        self._peers_version += 1
        if peer.inp.rearm():
            self._ready.append(peer)
        self._notify()

    def _detach(self, peer: Peer) -> None:
        if not peer.attached:
            return
        peer.attached = False
        self._peers_version += 1
        self.pattern.detach(peer)
        try:
            self.peers.remove(peer)
        except ValueError:
            pass

    def _hiccup(self, peer: Peer) -> None:
        if peer.attached:
            self.pattern.hiccup(peer)

    def _drop_peer(self, peer: Peer) -> None:
        """Detach a peer and close its connection (ROUTER handover, refusal)."""
        self._detach(peer)
        self._terminate_peer(peer)

    def _terminate_peer(self, peer: Peer) -> None:
        owner = peer.session
        if owner is None:
            return
        if hasattr(owner, "peer_closed"):
            owner.peer_closed(peer)
            return
        reactor = self._io_reactor or self.ctx._reactor
        if reactor is not None:
            reactor.call_soon_threadsafe(lambda: owner.terminate(0.0))

    # -- I/O-thread bookkeeping ------------------------------------------------------
    def _get_io_reactor(self):
        """The reactor this socket's connections run on: the context's choice at the first
        bind/connect (a context may have several: ``purezmq.asyncio``'s, one per loop
        thread), then that one for the socket's life, so closing it reaches them all."""
        reactor = self._io_reactor
        if reactor is None:
            reactor = self._io_reactor = self.ctx._get_reactor()
        return reactor

    def _io_add(self, obj) -> None:
        """Record an I/O object (listener, session, engine) until it calls _io_done."""
        with self._io_lock:
            self._io_objects.add(obj)

    def _io_done(self, obj) -> None:
        with self._io_lock:
            self._io_objects.discard(obj)
            done = self.closed and not self._io_objects
        if done:
            self.ctx._reaped(self._core)

    def make_mechanism(self):
        """A fresh security mechanism for one connection, from the socket's options."""
        from purezmq.security import make_mechanism

        return make_mechanism(self._core)

    def _zap_request(self, engine, request) -> None:
        from purezmq.security import zap_request

        zap_request(self._core, engine, request)

    # -- monitor ---------------------------------------------------------------------------
    def _event(self, event: int, value: int, endpoint: str) -> None:
        mon = self._monitor
        if mon is None or not event & self._monitor_mask:
            return
        msg = [_EVENT.pack(int(event), value & 0xFFFFFFFF), endpoint.encode()]
        with self._monitor_lock:
            mon = self._monitor  # again: disable_monitor/close may have just closed it
            if mon is None:
                return
            try:
                mon.try_send(msg)
            except ZMQError:
                pass

    # -- endpoints -------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise ZMQError(C.ENOTSOCK)
        if self.ctx._terminated:
            raise ContextTerminated()

    def bind(self, addr: str) -> None:
        self._check_open()
        if self._mailbox:
            self._process()
        from purezmq.core import endpoint as endpoints  # (loaded on first use: import time)

        ep = endpoints.parse(addr, bind=True, ipv6=bool(self.options.get(C.IPV6)))
        if ep.transport in ("pgm", "epgm"):  # as libzmq: bind is connect for multicast
            from purezmq.transports import pgm

            pgm.attach(self._core, ep, addr)
            return
        if ep.transport == "udp":
            from purezmq.transports import udp

            udp.attach(self._core, ep, addr, bind=True)
            return
        if ep.transport == "inproc":
            from purezmq.transports import inproc

            inproc.bind(self._core, ep.address)
            self._last_endpoint = addr
            self._endpoints.setdefault(addr, []).append(("inproc", ep.address))
            return
        if ep.transport in ("ws", "wss"):
            from purezmq.transports.ws import WsListener as Listener
        else:
            from purezmq.transports.stream import Listener

        listener = Listener(self._core, ep)
        self._last_endpoint = listener.endpoint
        # Keyed by LAST_ENDPOINT only, as libzmq: unbind("tcp://*:*") is ENOENT.
        self._endpoints.setdefault(listener.endpoint, []).append(listener)
        reactor = self._get_io_reactor()
        self._io_add(listener)
        reactor.call_soon_threadsafe(lambda: listener.start(reactor))

    def connect(self, addr: str) -> None:
        self._check_open()
        if self._mailbox:
            self._process()
        from purezmq.core import endpoint as endpoints  # (loaded on first use: import time)

        ep = endpoints.parse(addr, bind=False, ipv6=bool(self.options.get(C.IPV6)))
        if ep.transport in ("pgm", "epgm"):
            from purezmq.transports import pgm

            pgm.attach(self._core, ep, addr)
            return
        if ep.transport == "udp":
            from purezmq.transports import udp

            udp.attach(self._core, ep, addr, bind=False)
            return
        rid = self.options.pop(C.CONNECT_ROUTING_ID, b"")
        if ep.transport == "inproc":
            from purezmq.transports import inproc

            peer = inproc.connect(self._core, ep.address, rid)
            self._endpoints.setdefault(addr, []).append(peer)
            self._last_endpoint = addr
            return
        if ep.transport in ("ws", "wss"):
            from purezmq.transports.ws import WsSession as Session
        else:
            from purezmq.transports.stream import Session

        peer = None
        if self.pattern.attach_early and not self.options.get(C.IMMEDIATE):
            peer = self._new_peer(addr)
            peer.attached_early = True
            if rid:
                peer.routing_id = rid
        session = Session(self._core, ep, addr, peer, rid)
        if peer is not None:
            peer.session = session
            self._attach(peer)
        self._endpoints.setdefault(addr, []).append(session)
        self._last_endpoint = addr
        reactor = self._get_io_reactor()
        self._io_add(session)
        reactor.call_soon_threadsafe(lambda: session.start(reactor))

    def _remove_endpoint(self, addr: str, kind: str) -> None:
        self._check_open()
        if self._mailbox:
            self._process()
        from purezmq.core import endpoint as endpoints  # (loaded on first use: import time)

        transport, address = endpoints.split(addr)  # EINVAL, EPROTONOSUPPORT first (libzmq)
        if addr not in self._endpoints and transport == "tcp":
            addr = self._resolve_tcp_key(addr, address)
        objs = self._endpoints.pop(addr, None)
        if not objs:
            raise ZMQError(errno.ENOENT)
        reactor = self._io_reactor or self.ctx._reactor
        for obj in objs:
            if isinstance(obj, tuple):  # an inproc bind
                from purezmq.transports import inproc

                inproc.unbind(self._core, obj[1])
            elif isinstance(obj, Peer):  # an inproc connect
                self._drop_peer(obj)
            else:
                for other, lst in list(self._endpoints.items()):
                    if obj in lst:
                        lst.remove(obj)
                        if not lst:
                            del self._endpoints[other]
                peer = getattr(obj, "peer", None)
                if peer is not None:
                    self._detach(peer)
                if hasattr(obj, "released"):  # a Listener: its ipc path may be bound again
                    obj.released = True

                def stop(obj=obj) -> None:
                    obj.terminate(0.0)
                    if hasattr(obj, "close_engines"):
                        obj.close_engines(0.0)

                if reactor is not None:
                    reactor.call_soon_threadsafe(stop)

    def _resolve_tcp_key(self, addr: str, address: str) -> str:
        """libzmq's ``resolve_tcp_addr``: an endpoint not known as given is looked up again
        in its resolved form (``tcp://localhost:5555`` -> ``tcp://127.0.0.1:5555``, the
        key of a bind); a wildcard or an interface name does not resolve (ENOENT)."""
        import socket as _socket

        host, sep, port = address.rpartition(";")[2].rpartition(":")
        if not sep or not port.isdigit():
            return addr
        if len(host) >= 2 and host[0] == "[" and host[-1] == "]":
            host = host[1:-1]
        ipv6 = bool(self.options.get(C.IPV6))
        family = _socket.AF_INET6 if ipv6 else _socket.AF_INET
        flags = getattr(_socket, "AI_V4MAPPED", 0) if ipv6 else 0
        try:
            ip = _socket.getaddrinfo(host, None, family, _socket.SOCK_STREAM, 0, flags)[0][4][0]
        except (OSError, UnicodeError, ValueError):
            return addr
        shown = f"[{ip}]" if family == _socket.AF_INET6 else ip
        key = f"tcp://{shown}:{int(port)}"
        return key if key in self._endpoints else addr

    def unbind(self, addr: str) -> None:
        self._remove_endpoint(addr, "bind")

    def disconnect(self, addr: str) -> None:
        self._remove_endpoint(addr, "connect")

    # -- sending and receiving -----------------------------------------------------------
    def try_send(self, msg: list) -> bool:
        """Hand a whole message to the pattern; False if it would block."""
        if self._mailbox:
            self._process()
        return self.pattern.send(msg)

    def try_recv(self) -> list | None:
        msg = self.try_recv_item()
        return None if msg is None else as_frames(msg)

    def try_recv_item(self):
        """The next message as the pattern gives it (bare ``bytes`` for one frame), or None."""
        if self._mailbox:
            self._process()
        return self.pattern.recv()

    def send_msg(self, msg: list, flags: int = 0) -> None:
        if self.closed:
            raise ZMQError(C.ENOTSOCK)
        if self._mailbox:
            self._process()
        if self.pattern.send(msg):
            return
        if self.ctx._terminated:
            raise ContextTerminated()
        timeo = self.options.get(C.SNDTIMEO)
        if flags & _DONTWAIT or timeo == 0:
            raise Again()
        self._block(lambda: True if self.pattern.send(msg) else _NOTHING, timeo)

    def recv_msg(self, flags: int = 0) -> list:
        """The next whole message as a list of frames."""
        return as_frames(self.recv_item(flags))

    def recv_item(self, flags: int = 0):
        """The next message as the pattern gives it: a list, or a bare one-frame ``bytes``."""
        if self.closed:
            raise ZMQError(C.ENOTSOCK)
        if self._mailbox:
            self._process()
        msg = self.pattern.recv()
        if msg is not None:
            return msg
        return self._recv_wait(flags)

    def _recv_wait(self, flags: int):
        """``recv_item`` once an attempt found nothing (the sugar's fast path calls it)."""
        if self.closed:
            raise ZMQError(C.ENOTSOCK)
        if self.ctx._terminated:
            raise ContextTerminated()
        timeo = self.options.get(C.RCVTIMEO)
        if flags & _DONTWAIT or timeo == 0:
            raise Again()
        return self._block(self._recv_or_nothing, timeo, host=True)

    def _recv_or_nothing(self):
        msg = self.pattern.recv()
        return _NOTHING if msg is None else msg

    def _block(self, attempt, timeo: int, host: bool = False):
        """Retry ``attempt`` until it gives a result, waiting for wake-ups in between.

        With ``host`` (a blocking recv), the wait may read the socket's connections on this
        thread instead (see :mod:`purezmq.io.host`).
        """
        deadline = None if timeo < 0 else time.monotonic() + timeo / 1000.0
        w = self._waiter
        wake = w.wake
        get_host = _get_host or _load_get_host() if host else None
        hosting = get_host(self._core) if host else None
        if hosting is not None:
            # Both wake-ups before the first attempt: nothing delivered after it is missed.
            self.add_waiter(wake, hosting.sig_wake)
            hosting.start()
        else:
            self.add_waiter(wake)
        try:
            while True:
                w.clear()
                if hosting is not None and hosting.sig.pending:
                    hosting.sig.drain()
                if self._mailbox:
                    self._process()
                result = attempt()
                if result is not _NOTHING:
                    return result
                if self.ctx._terminated:
                    raise ContextTerminated()
                if self.closed:
                    raise ZMQError(C.ENOTSOCK)
                remaining = None
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise Again()
                if host:
                    if hosting is not None and hosting.version != self._peers_version:
                        hosting.close()
                        self.remove_waiter(hosting.sig_wake)
                        hosting = None
                    if hosting is None:
                        hosting = get_host(self._core)
                        if hosting is not None:
                            self.add_waiter(hosting.sig_wake)
                            hosting.start()
                            continue  # look again now that the signaler is registered
                    if hosting is not None:
                        hosting.wait(remaining, w)
                        continue
                w.wait(remaining)
        finally:
            if hosting is not None:
                hosting.close()
                self._remove_waiters(wake, hosting.sig_wake)
            else:
                self._remove_waiters(wake)

    def _events(self) -> int:
        """``POLLIN`` / ``POLLOUT`` as the socket stands now (the ``EVENTS`` option)."""
        sig = self._signaler
        if sig is not None and sig.pending:
            sig.drain()  # reset the FD's edge before looking, as libzmq does
        if self._mailbox:
            self._process()
        ev = 0  # a plain int, as pyzmq's (enum arithmetic costs a poll loop dearly)
        if self._rx is not None or self.pattern.can_recv():
            ev = _POLLIN
        if self.pattern.can_send():
            ev |= _POLLOUT
        return ev

    def _fd(self) -> int:
        """The ``FD`` option: readable when the state may have changed (edge-triggered;
        reading ``EVENTS`` resets it).  See :mod:`purezmq.plumbing.signaler`."""
        sig = self._signaler
        if sig is None:
            from purezmq.plumbing.signaler import Signaler

            sig = self._signaler = Signaler()
            self.add_waiter(sig.wake)
        return sig.fileno()

    # -- options ---------------------------------------------------------------------------
    def setsockopt(self, option: int, value) -> None:
        if self.closed:
            raise ZMQError(C.ENOTSOCK)
        if self.ctx._terminated:
            raise ContextTerminated()
        option = int(option)
        if option in READ_ONLY:
            raise ZMQError(C.EINVAL)
        value = check_value(option, value)
        if option in SECURITY_OPTIONS:
            set_security_option(self.options, option, value)
            return
        if self.pattern.setsockopt(option, value):
            return
        if option in (C.SUBSCRIBE, C.UNSUBSCRIBE):
            raise ZMQError(C.EINVAL)
        if option == C.HWM:
            self.options[C.SNDHWM] = value
            self.options[C.RCVHWM] = value
            return
        if option == C.IPV4ONLY:  # libzmq: the inverse of IPV6
            self.options[C.IPV6] = 1 - value
            return
        self.options[option] = value
        self.pattern.refresh()

    def getsockopt(self, option: int):
        if self.closed:
            raise ZMQError(C.ENOTSOCK)
        if self.ctx._terminated:
            raise ContextTerminated()
        option = int(option)
        if option == C.TYPE:
            return self._socket_type
        if option == C.RCVMORE:
            return int(self._rcvmore)
        if option == C.EVENTS:
            return self._events()
        if option == C.FD:
            return self._fd()
        if option == C.LAST_ENDPOINT:
            return self._last_endpoint.encode()
        if option == C.MECHANISM:
            return self._mechanism_number()
        if option == C.THREAD_SAFE:
            return 0
        if option == C.HWM:
            return self.options.get(C.SNDHWM)
        if option == C.IPV4ONLY:
            return 1 - self.options.get(C.IPV6)
        if option in SECURITY_OPTIONS:
            return get_security_option(self.options, option)
        if option in WRITE_ONLY and option not in self.options:
            raise ZMQError(C.EINVAL)
        from purezmq.constants import OPTION_TYPES

        if option not in OPTION_TYPES:
            raise ZMQError(C.EINVAL)
        return self.options.get(option)

    def _mechanism_number(self) -> int:
        return self.options.get(C.MECHANISM)  # kept by purezmq.security, as libzmq does

    # -- closing ---------------------------------------------------------------------------
    def _end_io(self, linger: int) -> bool:
        """Stop the socket's I/O objects, letting them flush for ``linger`` ms (-1: for
        ever); False if there are none.  ``Context.destroy(linger)`` calls it again on a
        closed socket still lingering (one closed by its collection) to cut it short."""
        reactor = self._io_reactor or self.ctx._reactor
        with self._io_lock:
            pending = bool(self._io_objects)
        if not pending or reactor is None:
            return False
        deadline = None if linger < 0 else time.monotonic() + linger / 1000.0
        objs, lock = self._io_objects, self._io_lock

        def shutdown() -> None:
            with lock:
                pending = list(objs)
            for obj in pending:
                obj.terminate(deadline)

        reactor.call_soon_threadsafe(shutdown)
        return True

    def close(self, linger: int | None = None) -> None:
        if self.closed:
            return
        if self._mailbox:
            self._process()
        if linger is None:
            linger = self.options.get(C.LINGER)
        self.closed = True
        self._notify()
        self._host = None
        if self._host_sig is not None:
            self._host_sig.close()
        sig = self._signaler
        if sig is not None:
            self._signaler = None
            self.remove_waiter(sig.wake)
            sig.close()
        from purezmq.transports import inproc

        inproc.socket_closed(self._core)
        for peer in list(self.peers):
            self._detach(peer)
        if not self._end_io(linger):
            self.ctx._reaped(self._core)
        if self._monitor is not None:
            self._event(C.EVENT_MONITOR_STOPPED, 0, "")
            with self._monitor_lock:  # not while the I/O thread reports an event
                mon, self._monitor = self._monitor, None
                if mon is not None:
                    mon.close(0)

