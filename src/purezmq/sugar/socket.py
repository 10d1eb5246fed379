"""``purezmq.Socket``: pyzmq's socket API over :class:`purezmq.core.socket.SocketBase`."""

from __future__ import annotations

import errno as _errno
import json
import pickle
import random
from typing import Any, Generic, TypeVar
from warnings import warn

from purezmq import constants as C
from purezmq.core import addresses
from purezmq.core.context import Context
from purezmq.core.socket import SocketBase
from purezmq.error import Again, ZMQBindError, ZMQError
from purezmq.patterns.draft import addressed
from purezmq.sugar.frame import _DONE, Frame, MessageTracker

_SNDMORE = int(C.SNDMORE)
_IPC_PATH_MAX_LEN = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux (zmq.IPC_PATH_MAX_LEN)
_DONTWAIT = int(C.DONTWAIT)


def _as_bytes(data: Any) -> bytes:
    cls = data.__class__
    if cls is bytes:
        return data
    if cls is Frame:
        return data._data
    if isinstance(data, str):
        raise TypeError("unicode not allowed, use send_string")
    if isinstance(data, Frame):
        return data._data
    try:
        return bytes(memoryview(data))
    except TypeError:
        raise TypeError(
            f"a bytes-like object is required, not {type(data).__name__!r}"
        ) from None


def writable_view(buffer: Any) -> memoryview:
    """``recv_into``'s target as bytes (``TypeError`` if it cannot be written)."""
    view = memoryview(buffer).cast("B")
    if view.readonly:
        raise TypeError("buffer must be writable")
    return view


def _into(view: memoryview, nbytes: int, frame: bytes) -> int:
    """Copy the start of ``frame`` (at most ``nbytes``, if given) into ``view``; return the
    frame's full size, as ``zmq_recv``."""
    n = min(nbytes or len(view), len(frame), len(view))
    view[:n] = frame[:n]
    return len(frame)


def _check_frames(parts: Any) -> None:
    """pyzmq's TypeError for a multipart message with a frame that is not a buffer."""
    for i, part in enumerate(parts):
        if isinstance(part, (bytes, Frame)):
            continue
        try:
            memoryview(part)
        except TypeError:
            raise TypeError(
                f"Frame {i} ({part!r:.32}) does not support the buffer interface."
            ) from None


def name_endpoint(e: ZMQError, addr: str) -> None:
    """Add the endpoint to a bind/connect error's message, as pyzmq does (an ipc path's
    length limit or missing directory explained)."""
    if "(addr=" in e.strerror:
        return
    if addr.startswith("ipc://"):
        path = addr[6:]
        if e.errno == _errno.ENAMETOOLONG:
            e.strerror = (
                f'ipc path "{path}" is longer than {_IPC_PATH_MAX_LEN} characters '
                "(sizeof(sockaddr_un.sun_path)). zmq.IPC_PATH_MAX_LEN constant can be used "
                "to check addr length (if it is defined)."
            )
        elif e.errno == _errno.ENOENT:
            e.strerror = f'No such file or directory for ipc path "{path}".'
    e.strerror += f" (addr={addr!r})"


class SocketContext:
    """What ``bind`` / ``connect`` return (pyzmq 26+): ``with sock.bind(addr):`` gives
    the socket and unbinds on exit (``connect``: disconnects), leaving it open."""

    __slots__ = ("socket", "kind", "addr")

    def __init__(self, socket: Any, kind: str, addr: str) -> None:
        self.socket = socket
        self.kind = kind
        self.addr = addr

    def __repr__(self) -> str:
        return f"<SocketContext({self.kind}={self.addr!r})>"

    def __enter__(self) -> Any:
        return self.socket

    def __exit__(self, *args: Any) -> None:
        sock = self.socket
        if sock.closed:
            return
        if self.kind == "bind":
            sock.unbind(self.addr)
        else:
            sock.disconnect(self.addr)


# What the receiving methods return: bytes here, a Future in ``zmq.asyncio`` (pyzmq types it
# so; at run time it makes ``zmq.Socket[bytes]`` valid, as in pyzmq).
_SocketReturnT = TypeVar("_SocketReturnT", covariant=True)


class Socket(SocketBase, Generic[_SocketReturnT]):
    """A ZeroMQ socket with pyzmq's API.  Not thread-safe, as in pyzmq.

    Generic in what its receiving methods return (``Socket[bytes]``), as pyzmq's."""

    _shadow = False
    copy_threshold: int

    def __setattr__(self, key: str, value: Any) -> None:
        # As pyzmq: a public name that is neither an attribute nor an option is an error
        # (``sock.lingr = 0``), not a new attribute.  (The hot paths set their state
        # through ``self._core``, which shares the instance dictionary, not through here.)
        if (
            key[0] != "_"
            and key not in self.PUBLIC_ATTRIBUTES
            and key not in self.__dict__
            and not hasattr(type(self), key)
        ):
            raise AttributeError(f"{type(self).__name__} has no such option: {key.upper()}")
        object.__setattr__(self, key, value)

    def __new__(cls, *args: Any, shadow: Any = 0, **kwargs: Any):
        if shadow:
            return cls.shadow(shadow)
        return super().__new__(cls)

    def __init__(
        self, ctx_or_socket: Any = None, socket_type: int = 0, *, shadow: Any = 0,
        copy_threshold: int | None = None,
    ) -> None:
        if shadow:
            return  # __new__ found the socket shadowed: it is ready
        if ctx_or_socket is None:
            ctx_or_socket = Context.instance()
        super().__init__(ctx_or_socket, int(socket_type))
        self.copy_threshold = copy_threshold or 65536
        ctx_or_socket._register(self)

    @property
    def context(self) -> Context:
        return self.ctx

    @property
    def socket_type(self) -> int:
        return self._socket_type

    @property
    def underlying(self) -> int:
        return id(self)

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def __del__(self) -> None:
        # As pyzmq: warn about, then close, a socket collected without close().  (Nothing
        # inside holds this object, only its core: docs/ARCHITECTURE.md, socket lifetime.)
        if not self._shadow and not getattr(self, "closed", True):
            if warn is not None:  # None during interpreter teardown
                warn(f"Unclosed socket {self}", ResourceWarning, stacklevel=2, source=self)
            try:
                reactor = getattr(self, "_io_reactor", None) or self.ctx._reactor
                if reactor is not None and reactor.in_thread():
                    # The garbage collector ran this finaliser on the I/O thread, at some
                    # allocation inside whatever it was doing, maybe holding a lock that
                    # close() takes: close between its callbacks instead, nothing held.
                    reactor.call_soon(self._core.close)
                    return
                self.close()
            except Exception:
                pass

    _repr_cls = "purezmq.Socket"

    def __repr__(self) -> str:
        # pyzmq's form: <zmq.Socket(zmq.PUSH) at 0x... closed>
        cls = type(self)
        name = cls.__dict__.get("_repr_cls") or f"{cls.__module__}.{cls.__name__}"
        closed = " closed" if self.closed else ""
        return f"<{name}(zmq.{self.type_name}) at {hex(id(self))}{closed}>"

    def __copy__(self) -> Socket:
        """A shadow, as pyzmq's: another object over the same socket, which its collection
        does not close."""
        from_socket = getattr(type(self), "from_socket", None)  # an async socket's view
        return from_socket(self) if from_socket is not None else _sync_view(self)

    def __deepcopy__(self, memo: Any) -> Socket:
        return self.__copy__()

    # -- options -------------------------------------------------------------------------
    def set(self, option: int, optval: Any) -> None:
        self.setsockopt(option, optval)

    def get(self, option: int) -> Any:
        return self.getsockopt(option)

    def setsockopt_string(self, option: int, optval: str, encoding: str = "utf-8") -> None:
        if not isinstance(optval, str):
            raise TypeError(f"strings only, not {type(optval)}")
        self.setsockopt(option, optval.encode(encoding))

    set_string = setsockopt_string

    def getsockopt_string(self, option: int, encoding: str = "utf-8") -> str:
        if C.OPTION_TYPES.get(int(option)) != "bytes":
            raise TypeError(f"option {option} will not return a string to be decoded")
        return self.getsockopt(option).decode(encoding)

    get_string = getsockopt_string
    setsockopt_unicode = setsockopt_string
    getsockopt_unicode = getsockopt_string

    @classmethod
    def shadow(cls, address: Any) -> Socket:
        """pyzmq shadows a libzmq socket by address (``underlying``) or object: here the
        socket itself, or a view of it of this class (an asyncio socket over a sync one)."""
        if isinstance(address, SocketBase):
            orig = address
        elif isinstance(address, int):
            orig = addresses.find(address, SocketBase, "socket")
        else:
            raise ZMQError(C.EINVAL, "purezmq can only shadow purezmq sockets")
        if type(orig) is cls or (isinstance(orig, cls) and cls is not Socket):
            return orig  # type: ignore[return-value]
        from_socket = getattr(cls, "from_socket", None)  # an async view of a sync socket
        if from_socket is not None:
            return from_socket(orig)
        if cls is Socket:  # a plain, blocking view of an async socket
            return _sync_view(orig)
        return orig  # type: ignore[return-value]

    def join(self, group: str | bytes) -> None:
        """Join a RADIO-DISH group (DISH only: ``ENOTSUP`` on other types, as libzmq)."""
        self._group_op("join", group)

    def leave(self, group: str | bytes) -> None:
        """Leave a RADIO-DISH group (``EINVAL`` if not joined, as libzmq)."""
        self._group_op("leave", group)

    def _group_op(self, name: str, group: str | bytes) -> None:
        if self.closed:
            raise ZMQError(C.ENOTSOCK)
        op = getattr(self.pattern, name, None)
        if op is None:
            raise ZMQError(C.ENOTSUP)
        if self._mailbox:
            self._process()
        op(group)

    def connect_peer(self, addr: str) -> int:
        """PEER: connect, and return the routing id of that peer (``zmq_connect_peer``)."""
        if self._socket_type != C.PEER:
            raise ZMQError(C.ENOTSUP)
        if self.options.get(C.IMMEDIATE):
            raise ZMQError(C.EFAULT)  # as libzmq: the peer would not exist yet
        self.connect(addr)
        return self.pattern.last_id

    def get_hwm(self) -> int:
        return self.getsockopt(C.SNDHWM)

    def set_hwm(self, value: int) -> None:
        self.setsockopt(C.SNDHWM, value)
        self.setsockopt(C.RCVHWM, value)

    hwm = property(get_hwm, set_hwm)

    def subscribe(self, topic: str | bytes) -> None:
        if isinstance(topic, str):
            topic = topic.encode("utf-8")
        self.setsockopt(C.SUBSCRIBE, topic)

    def unsubscribe(self, topic: str | bytes) -> None:
        if isinstance(topic, str):
            topic = topic.encode("utf-8")
        self.setsockopt(C.UNSUBSCRIBE, topic)

    def fileno(self) -> int:
        return self.getsockopt(C.FD)

    # -- endpoints -------------------------------------------------------------------------
    # pyzmq takes endpoints as str or bytes (``sock.unbind(sock.last_endpoint)``).
    def bind(self, addr: str) -> SocketContext:
        """Bind to ``addr``; errors name it.  The result, used as a context manager
        (``with sock.bind(addr):``), unbinds on exit (pyzmq 26+)."""
        return self._attach_endpoint("bind", super().bind, addr)

    def connect(self, addr: str) -> SocketContext:
        """Connect to ``addr``; errors name it.  The result, used as a context manager
        (``with sock.connect(addr):``), disconnects on exit (pyzmq 26+)."""
        return self._attach_endpoint("connect", super().connect, addr)

    def _attach_endpoint(self, kind: str, attach: Any, addr: str | bytes) -> SocketContext:
        addr = addr.decode() if isinstance(addr, bytes) else addr
        try:
            attach(addr)
        except ZMQError as e:
            name_endpoint(e, addr)
            raise
        # bind's context unbinds what was bound (a wildcard port resolved), as pyzmq's
        return SocketContext(self, kind, (self._last_endpoint or addr) if kind == "bind"
                             else addr)

    def unbind(self, addr: str) -> None:
        super().unbind(addr.decode() if isinstance(addr, bytes) else addr)

    def disconnect(self, addr: str) -> None:
        super().disconnect(addr.decode() if isinstance(addr, bytes) else addr)

    def bind_to_random_port(
        self, addr: str, min_port: int = 49152, max_port: int = 65536, max_tries: int = 100
    ) -> int:
        if min_port == 49152 and max_port == 65536:
            self.bind(f"{addr}:*")
            return int(self._last_endpoint.rsplit(":", 1)[-1])
        for _ in range(max_tries):
            port = random.randrange(min_port, max_port)
            try:
                self.bind(f"{addr}:{port}")
            except ZMQError as e:
                if e.errno not in (_errno.EADDRINUSE, _errno.EACCES):
                    raise
            else:
                return port
        raise ZMQBindError("Could not bind socket to random port.")

    # -- sending ---------------------------------------------------------------------------
    def send(
        self, data: Any, flags: int = 0, copy: bool = True, track: bool = False,
        routing_id: int | None = None, group: str | None = None,
    ) -> MessageTracker | None:
        if data.__class__ is not bytes:
            if isinstance(data, Frame):  # pyzmq sends a Frame's routing id and group
                routing_id = data.routing_id if routing_id is None else routing_id
                group = data.group if group is None else group
            data = _as_bytes(data)
        if routing_id is not None or group is not None:
            return self._send_addressed(data, flags, routing_id, group, track, copy)
        if not flags and not self._tx:
            # The common case, kept short: one frame, blocking.
            if self._mailbox:
                self._process()
            pattern = self.pattern
            msg = data if pattern.bare_send else [data]  # one frame travels bare
            if not pattern.send(msg):
                self.send_msg(msg, 0)
            return _DONE if track and not copy else None
        flags = int(flags)
        if flags & _SNDMORE:
            if self.pattern.single_part:
                raise ZMQError(C.EINVAL)  # the draft types take no multipart messages
            if not self._tx and flags & _DONTWAIT:
                if self._mailbox:
                    self._process()
                if not self.pattern.can_send():
                    raise Again()
            self._tx.append(data)
        elif self._tx:
            msg = self._tx
            msg.append(data)
            self._core._tx = []
            try:
                self.send_msg(msg, flags)
            except Again:
                msg.pop()
                self._core._tx = msg
                raise
        else:
            self.send_msg(data if self.pattern.bare_send else [data], flags)
        return _DONE if track and not copy else None

    def _send_addressed(
        self, data: bytes, flags: int, routing_id: Any, group: Any, track: bool, copy: bool
    ) -> MessageTracker | None:
        """A send with pyzmq's draft ``routing_id`` / ``group`` (ignored by the other
        socket types, as libzmq ignores them, once checked as ``zmq_msg_set_*`` checks)."""
        msg = addressed(data, routing_id, group)
        if not self.pattern.single_part:
            return self.send(data, flags, copy=copy, track=track)
        flags = int(flags)
        if flags & _SNDMORE:
            raise ZMQError(C.EINVAL)
        self.send_msg(msg, flags)
        return _DONE if track and not copy else None

    def send_multipart(
        self, msg_parts: Any, flags: int = 0, copy: bool = True, track: bool = False, **kwargs: Any
    ) -> MessageTracker | None:
        if self.pattern.single_part:  # a draft type: one frame (a Frame keeps its routing id)
            parts = list(msg_parts)
            if len(parts) != 1:
                raise ZMQError(C.EINVAL)
            return self.send(parts[0], flags, copy=copy, track=track)
        try:
            parts = [p if p.__class__ is bytes else _as_bytes(p) for p in msg_parts]
        except TypeError:
            _check_frames(msg_parts)
            raise
        if not parts:
            raise IndexError("list index out of range")  # pyzmq's, for an empty message
        if self._tx:
            parts = self._tx + parts
            self._core._tx = []
        flags = int(flags)
        if flags & _SNDMORE:
            self._tx.extend(parts)
        else:
            self.send_msg(parts, flags)
        return _DONE if track and not copy else None

    def send_string(
        self, u: str, flags: int = 0, copy: bool = True, encoding: str = "utf-8", **kwargs: Any
    ) -> MessageTracker | None:
        if not isinstance(u, str):
            raise TypeError("str objects only")
        return self.send(u.encode(encoding), flags=flags, copy=copy, **kwargs)

    send_unicode = send_string

    def send_pyobj(
        self, obj: Any, flags: int = 0, protocol: int = pickle.DEFAULT_PROTOCOL, **kwargs: Any
    ) -> MessageTracker | None:
        return self.send(pickle.dumps(obj, protocol), flags=flags, **kwargs)

    def send_json(self, obj: Any, flags: int = 0, **kwargs: Any) -> MessageTracker | None:
        send_kwargs = {k: kwargs.pop(k) for k in ("copy", "track", "routing_id", "group")
                       if k in kwargs}
        data = json.dumps(obj, **kwargs).encode("utf-8")  # pyzmq's spacing: the same bytes
        return self.send(data, flags=flags, **send_kwargs)

    def send_serialized(
        self, msg: Any, serialize: Any, flags: int = 0, copy: bool = True, **kwargs: Any
    ) -> MessageTracker | None:
        return self.send_multipart(serialize(msg), flags=flags, copy=copy, **kwargs)

    # -- receiving -------------------------------------------------------------------------
    def _next_frame(self, flags: int) -> bytes:
        rx = self._rx
        if rx is not None:
            frame = rx.pop()
            if not rx:
                self._core._rx = None
                self._core._rcvmore = False
            return frame
        if self._mailbox:
            self._process()
        msg = self.pattern.recv()
        if msg is None:
            msg = self.recv_item(int(flags))
        if msg.__class__ is bytes:
            if self._rcvmore:  # (stored only when it changes: usually not at all)
                self._core._rcvmore = False
            return msg
        if len(msg) == 1:
            if self._rcvmore:  # (stored only when it changes: usually not at all)
                self._core._rcvmore = False
            return msg[0]
        msg.reverse()
        frame = msg.pop()
        self._core._rx = msg
        self._core._rcvmore = True
        return frame

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        if not flags and copy and self._rx is None:
            # The common case, kept short: a one-frame message, blocking.
            if self._mailbox:
                self._process()
            ready = self._ready
            pattern = self.pattern
            if len(ready) == 1 and pattern.fair_queue:
                # One peer has data, and the pattern's recv is the plain fair-queue
                # (PULL, DEALER, PAIR, SUB subscribed to everything): fair_recv_item's
                # own fast path, inlined, in the same order (see its Ctrl-C comment).
                peer = ready[0]
                pipe = peer.inp
                q = pipe.q
                if q:
                    msg = q.popleft()
                    if not q and not pipe.rearm():
                        ready.popleft()
                    if pipe.writer_blocked:
                        pipe.released()
                    if ready.last is not peer:
                        ready.last = peer
                else:
                    msg = pattern.recv()
            else:
                msg = pattern.recv()
            if msg is None:
                msg = self._recv_wait(0)
            if msg.__class__ is bytes:  # a one-frame message, as pipes carry it
                if self._rcvmore:  # (stored only when it changes: usually not at all)
                    self._core._rcvmore = False
                return msg
            if len(msg) == 1:
                if self._rcvmore:  # (stored only when it changes: usually not at all)
                    self._core._rcvmore = False
                return msg[0]
            msg.reverse()
            frame = msg.pop()
            self._core._rx = msg
            self._core._rcvmore = True
            return frame
        frame = self._next_frame(flags)
        if copy:
            return frame
        f = Frame(frame)
        f.more = self._rcvmore
        peer = self.last_peer
        if peer is not None:
            f._props = peer.properties
        pattern = self.pattern
        if pattern.single_part:  # a draft type: the message's routing id / group
            f.routing_id = pattern.rx_routing_id
            f.group = pattern.rx_group
        return f

    def recv_multipart(self, flags: int = 0, copy: bool = True, track: bool = False) -> list:
        rx = self._rx
        if rx is not None:
            rx.reverse()
            msg = rx
            self._core._rx = None
            self._core._rcvmore = False
        else:
            msg = self.recv_msg(int(flags))
        if copy:
            return msg
        frames = []
        last = len(msg) - 1
        props = self.last_peer.properties if self.last_peer is not None else None
        pattern = self.pattern
        for i, data in enumerate(msg):
            f = Frame(data)
            f.more = i < last
            f._props = props
            if pattern.single_part:
                f.routing_id = pattern.rx_routing_id
                f.group = pattern.rx_group
            frames.append(f)
        return frames

    def recv_into(self, buffer: Any, /, *, nbytes: int = 0, flags: int = 0) -> int:
        """Receive one frame into ``buffer`` (truncated to ``nbytes``); return its full size."""
        return _into(writable_view(buffer), nbytes, self._next_frame(flags))

    def recv_string(self, flags: int = 0, encoding: str = "utf-8") -> str:
        return self._next_frame(flags).decode(encoding)

    recv_unicode = recv_string

    def recv_pyobj(self, flags: int = 0) -> Any:
        return pickle.loads(self._next_frame(flags))

    def recv_json(self, flags: int = 0, **kwargs: Any) -> Any:
        return json.loads(self._next_frame(flags).decode("utf-8"), **kwargs)

    def recv_serialized(self, deserialize: Any, flags: int = 0, copy: bool = True) -> Any:
        return deserialize(self.recv_multipart(flags, copy=copy))

    # -- polling -------------------------------------------------------------------------
    def poll(self, timeout: int | None = None, flags: int = C.POLLIN) -> int:
        if self.closed:
            raise ZMQError(C.ENOTSOCK)
        from purezmq.sugar.poll import Poller

        p = Poller()
        p.register(self, flags)
        evts = dict(p.poll(timeout))
        return evts.get(self, 0)

    # -- monitor ---------------------------------------------------------------------------
    def monitor(self, addr: str | None, events: int = C.EVENT_ALL) -> None:
        if addr is None:
            self.disable_monitor()
            return
        if isinstance(addr, (bytes, bytearray)):  # pyzmq takes bytes too
            addr = bytes(addr).decode("utf-8")
        if not addr.startswith("inproc://"):
            raise ZMQError(C.EPROTONOSUPPORT)
        if self._monitor is not None:
            self.disable_monitor()
        mon = self.ctx.socket(C.PAIR, socket_class=SocketBase)
        mon.setsockopt(C.LINGER, 0)
        mon.bind(addr)
        self._monitor_mask = int(events)
        self._monitor = mon

    def get_monitor_socket(self, events: int | None = None, addr: str | None = None) -> Socket:
        current = getattr(self, "_monitor_socket", None)
        if current is not None and not current.closed and self._monitor is not None:
            return current  # already monitoring, as pyzmq
        if addr is None:
            addr = f"inproc://monitor.s-{id(self)}"
        if events is None:
            events = C.EVENT_ALL
        self.monitor(addr, events)
        self._monitor_socket = self.ctx.socket(C.PAIR)
        self._monitor_socket.connect(addr)
        return self._monitor_socket

    def disable_monitor(self) -> None:
        self._monitor_socket = None
        mon = self._monitor
        if mon is not None:
            self._event(C.EVENT_MONITOR_STOPPED, 0, "")
            with self._monitor_lock:  # the I/O thread may be reporting an event right now
                self._monitor = None
                mon.close(0)


def _option_property(option: C.SocketOption) -> property:
    def fget(self: Socket) -> Any:
        return self.getsockopt(option)

    def fset(self: Socket, value: Any) -> None:
        self.setsockopt(option, value)

    return property(fget, fset, doc=f"The {option.name} socket option.")


class _SyncView(Socket):
    """A base ``purezmq.Socket`` over an async socket's state.

    What ``purezmq.Socket.shadow(async_sock)`` gives, as pyzmq's (its ZMQStream takes one
    to get lists of frames rather than futures).  The view shares the async socket's
    state (its instance dictionary); what the core does with the socket object itself
    (registering endpoints, closing) goes through the original.
    """

    __slots__ = ("_orig",)
    _shadow = True  # garbage-collecting the view must not close the socket
    _repr_cls = "purezmq.Socket"

    @property
    def underlying(self) -> int:
        return self._orig.underlying

    def bind(self, addr: str) -> SocketContext:
        self._orig.bind(addr)
        return SocketContext(self, "bind", self._last_endpoint)

    def connect(self, addr: str) -> SocketContext:
        self._orig.connect(addr)
        return SocketContext(self, "connect", addr.decode() if isinstance(addr, bytes) else addr)

    def unbind(self, addr: str) -> None:
        self._orig.unbind(addr)

    def disconnect(self, addr: str) -> None:
        self._orig.disconnect(addr)

    def close(self, linger: int | None = None) -> None:
        self._orig.close(linger)


def _sync_view(sock: Socket) -> Socket:
    view = object.__new__(_SyncView)
    view.__dict__ = sock.__dict__
    view._orig = sock
    return view


# As pyzmq's, ``sock.type`` still answers once the socket is closed (its other options don't).
Socket.type = property(lambda self: self._socket_type, doc="The socket type (zmq.PUSH...).")

for _name, _opt in C.SocketOption.__members__.items():
    for _attr in (_name.lower(), _name):  # pyzmq accepts sock.linger and sock.LINGER
        if not hasattr(Socket, _attr):
            setattr(Socket, _attr, _option_property(_opt))

Context._socket_class = Socket


# pyzmq: the blocking socket, receiving bytes
SyncSocket = Socket[bytes]

__all__ = ["Socket", "SocketContext", "SyncSocket"]
