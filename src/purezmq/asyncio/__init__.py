"""``purezmq.asyncio``: pyzmq's ``zmq.asyncio`` API (Context, Socket, Poller).

Theory of operation.  An async socket is the same :class:`purezmq.Socket` (so options,
``bind``, ``connect`` and ``close`` are the sync ones) whose ``send*`` / ``recv*`` / ``poll``
return :class:`asyncio.Future` objects.

* Fast path: a call with nobody queued before it tries the non-blocking core operation at
  once (``pattern.recv`` / ``try_send``) and returns an already finished future.
* Waiting: otherwise the future joins the socket's recv (or send) queue and the socket
  registers one wake callback with the core (``add_waiter``).  The core calls it from any
  thread (an engine on the I/O thread delivering messages, a pipe draining, an inproc peer)
  whenever the socket's state may have changed; it schedules the queue handler on the
  loop once (``call_soon_threadsafe``, or ``call_soon`` from the loop's own thread) until
  the handler has run: edge-triggered, no polling.  The handler completes queued futures
  in order for as long as the core has messages (or room); when no future is left the
  wake callback is removed, so an idle socket costs nothing.
* Cancellation.  A queued recv takes its message from the pipe only while completing a
  future that nobody cancelled (the handler runs on the loop thread, so "not cancelled,
  take, set_result" cannot interleave with a ``cancel()``).  One window remains in asyncio
  itself: a future completed by us whose awaiting task is cancelled before it resumes
  (``task.cancel()``, ``asyncio.timeout`` in the same loop iteration).  The task then
  never sees the result.  Our futures' ``__await__`` catches that and gives the message
  back: it goes in front of the pattern's queue (``_aio_back``, in delivery order; a
  single frame of a message read frame by frame goes back into ``_rx``), so a later recv
  returns it and no message is lost or duplicated.  A send is handed to the core as one
  whole message (``SNDMORE`` frames are gathered first), so a cancelled send sent either
  all of its message or nothing.
* Timeouts: ``RCVTIMEO`` / ``SNDTIMEO`` >= 0 arm a loop timer that fails the queued
  future with ``zmq.Again``, as pyzmq's asyncio does; ``asyncio.wait_for`` works too.

``Context(sync_ctx)`` / ``Context.shadow(sync_ctx)`` is a second Python object over the
same context state (the instance dictionary is shared), so sync and async sockets can talk
over inproc and share the I/O thread; ``Socket.from_socket(sync_sock)`` likewise.

Where the connections run.  By default on the running event loop (``io_on_loop=True``),
through :class:`purezmq.asyncio._reactor.LoopReactor` (the I/O thread's interface on the loop):
no I/O thread, no thread hop, no GIL hand-over per message.  (``io_on_loop=False`` or
``PUREZMQ_ASYNCIO_IO=thread`` keeps the context's I/O thread, as for sync sockets, and the
async API then only adds the loop wake-up above.)  ``term()`` drives the
connections itself when the loop cannot (called in the loop's thread, or after the loop
closed), so lingering messages still go out.  The price: every socket of such a context
does its I/O only while that loop runs, so a blocking call in the loop's thread waits
for itself.

Several loop threads, one context (as pyzmq allows).  The context has one loop reactor
per event loop (see ``Context._get_reactor``): a socket's connections run on the loop
that was running where it was first bound or connected, so a thread's loop never waits
for another's.  A reactor is driven by one running loop at a time; a socket used from
another thread's loop still works through it (its wake-ups reach its own loop with
``call_soon_threadsafe``), and takes it over when the loop driving it has stopped.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import pickle
import threading
import warnings
import weakref
from collections import deque
from typing import Any

from purezmq import constants as C
from purezmq.asyncio._reactor import LoopReactor
from purezmq.core import addresses
from purezmq.core.context import Context as _SyncContext
from purezmq.core.socket import SocketBase
from purezmq.error import Again, ContextTerminated, ZMQError
from purezmq.patterns.draft import addressed
from purezmq.plumbing.pipe import as_frames
from purezmq.sugar.frame import _DONE, Frame
from purezmq.sugar.poll import Poller as _SyncPoller
from purezmq.sugar.socket import Socket as _SyncSocket
from purezmq.sugar.socket import SocketContext, _as_bytes, _into, writable_view

__all__ = ["Context", "Socket", "Poller", "ZMQEventLoop", "install"]

_NOTHING = object()
_RETRACTED = object()
_SNDMORE = int(C.SNDMORE)
_DONTWAIT = int(C.DONTWAIT)
_POLLIN = int(C.POLLIN)
_POLLOUT = int(C.POLLOUT)
_RCVTIMEO = int(C.RCVTIMEO)
_SNDTIMEO = int(C.SNDTIMEO)
_ENOTSOCK = int(C.ENOTSOCK)

# What a queued recv takes from the socket: one whole message, or one frame.
_MSG = 0
_FRAME = 1
_FRAME_WHOLE = 2  # a frame that was a whole message

_get_running_loop = asyncio.get_running_loop
_get_ident = threading.get_ident


def _loop() -> asyncio.AbstractEventLoop:
    try:
        return _get_running_loop()
    except RuntimeError:
        warnings.warn(
            "No running event loop. purezmq.asyncio should be used from within an asyncio loop.",
            RuntimeWarning,
            stacklevel=4,
        )
        return asyncio.get_event_loop()


class _Future(asyncio.Future):
    """An ``asyncio.Future`` that a socket's queue owns until it completes.

    ``cancel()`` tells the socket at once (so an idle socket unregisters its wake callback
    without waiting for a done callback), and ``__await__`` gives a received message back
    to the socket when the awaiting task is cancelled after the message was delivered but
    before the task could see it (see the module docstring).
    """

    __slots__ = ("_sock", "_kind", "_arg", "_timer", "_taken", "_home", "_seq")

    def cancel(self, msg: Any = None) -> bool:
        if not super().cancel(msg):
            return False
        sock = self._sock
        if sock is not None:
            self._sock = None
            sock._aio_forget(self)
        return True

    def result(self) -> Any:
        if self._taken is _RETRACTED:
            raise asyncio.CancelledError("the message went back to the socket")
        return super().result()

    def __await__(self):
        if not self.done():
            self._asyncio_future_blocking = True
            try:
                yield self
            except BaseException:
                taken = self._taken
                if taken is not None and taken is not _RETRACTED:
                    self._taken = _RETRACTED
                    self._home._aio_give_back(self._kind, self._seq, taken)
                raise
            if not self.done():
                raise RuntimeError("await wasn't used with future")
        self._taken = None  # delivered: nothing to give back any more
        self._home = None  # (nor a socket to hold)
        return self.result()

    __iter__ = __await__


def _new_future(loop) -> _Future:
    f = _Future(loop=loop)
    f._sock = None
    f._kind = None
    f._arg = None
    f._timer = None
    f._taken = None
    f._home = None
    f._seq = 0
    return f


# Futures that are finished when returned need none of _Future's care: plain ones are cheaper.
def _done(loop, result: Any) -> asyncio.Future:
    f = loop.create_future()
    f.set_result(result)
    return f


def _failed(loop, exc: BaseException) -> asyncio.Future:
    f = loop.create_future()
    f.set_exception(exc)
    return f


def _as_frames(msg: list, props: Any = None) -> list:
    frames = []
    last = len(msg) - 1
    for i, data in enumerate(msg):
        f = Frame(data)
        f.more = i < last
        f._props = props
        frames.append(f)
    return frames


class Socket(_SyncSocket):
    """A socket whose send/recv/poll methods return asyncio Futures (pyzmq's API)."""

    # Per Python object, outside the (possibly shared) instance dictionary.
    __slots__ = ("_shadow_of",)

    _aio_loop: Any = None
    _aio_tid = 0
    _aio_rq: deque | None = None
    _aio_sq: deque | None = None
    _aio_pending = 0
    _aio_watching = False
    _aio_scheduled = False
    _aio_back: Any = ()  # a list per instance once _aio_init ran

    def __init__(
        self, context: Any = None, socket_type: int = -1, io_loop: Any = None,
        _from_socket: Any = None, **kwargs: Any,
    ) -> None:
        if kwargs.get("shadow"):
            return  # __new__ made this view of the shadowed socket (from_socket)
        self._shadow_of = None
        if isinstance(context, _SyncSocket):
            context, _from_socket = None, context
        if io_loop is not None:
            warnings.warn(
                "Socket(io_loop) is deprecated in pyzmq: the running loop is always used.",
                DeprecationWarning,
                stacklevel=2,
            )
        if _from_socket is not None:
            if isinstance(_from_socket, Socket) and _from_socket._shadow_of is not None:
                _from_socket = _from_socket._shadow_of
            # A second Python object over the same socket state (see the module docstring);
            # operations that hand the socket object to others go through the original.
            self._shadow_of = _from_socket
            self.__dict__ = _from_socket.__dict__
            if "_aio_rq" not in self.__dict__:
                self._aio_init()
            elif self._aio_ref() is None:
                self._core._aio_ref = weakref.ref(self)
            return
        super().__init__(context, socket_type, **kwargs)
        self._aio_init()

    def _aio_init(self) -> None:
        self._core._aio_rq = deque()
        self._core._aio_sq = deque()
        self._core._aio_pending = 0
        self._core._aio_watching = False
        self._core._aio_scheduled = False
        self._core._aio_loop = None
        self._core._aio_tid = 0
        # The core's wake-up reaches this object weakly: the core (held by the I/O side)
        # shares this object's dictionary, so a bound method here would keep it alive.
        self._core._aio_ref = weakref.ref(self)
        state = self.__dict__

        def waker() -> None:
            sock = state["_aio_ref"]()
            if sock is not None:
                sock._aio_wake()

        self._core._aio_waker = waker
        self._core._aio_back = []  # (delivery number, message) given back, in delivery order
        self._core._aio_seq = 0
        self._core._aio_whole = False

    def __del__(self) -> None:
        # A shadow going away must not close the socket it shadows.
        if getattr(self, "_shadow_of", None) is None:
            parent = getattr(super(), "__del__", None)
            if parent is not None:
                parent()

    @property
    def underlying(self) -> int:
        """The shadowed socket's address for a shadow, as pyzmq's (one libzmq socket)."""
        orig = self._shadow_of
        return id(orig) if orig is not None else id(self)

    @classmethod
    def from_socket(cls, socket: _SyncSocket, io_loop: Any = None) -> Socket:
        """An async socket over an existing (sync) socket's state."""
        return cls(_from_socket=socket, io_loop=io_loop)

    _repr_cls = "purezmq.asyncio.Socket"

    # -- operations that hand the socket object to others: done by the original ----------
    def bind(self, addr: str) -> SocketContext:
        orig = self._shadow_of
        if orig is None:
            return super().bind(addr)
        orig.bind(addr)
        return SocketContext(self, "bind", self._last_endpoint)

    def connect(self, addr: str) -> SocketContext:
        orig = self._shadow_of
        if orig is None:
            return super().connect(addr)
        orig.connect(addr)
        return SocketContext(self, "connect", addr.decode() if isinstance(addr, bytes) else addr)

    def unbind(self, addr: str) -> None:
        orig = self._shadow_of
        (orig if orig is not None else super()).unbind(addr)

    def disconnect(self, addr: str) -> None:
        orig = self._shadow_of
        (orig if orig is not None else super()).disconnect(addr)

    def close(self, linger: int | None = None) -> None:
        if not self.closed and self._aio_rq is not None:
            self._aio_cancel_all()
            self._core._aio_back = []
        orig = self._shadow_of
        if orig is not None:
            orig.close(linger)
        else:
            super().close(linger)

    # -- the loop and the wake callback ---------------------------------------------------
    def _aio_get_loop(self):
        loop = self._aio_loop
        try:
            running = _get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is loop:
            return loop
        if running is None:
            if loop is not None and not loop.is_closed():
                return loop
            running = _loop()
        # First use, or a new loop (asyncio.run called again): futures queued on the old
        # loop can never complete on this one.
        if self._aio_pending:
            self._aio_cancel_all()
        self._core._aio_scheduled = False  # a handler left on the old loop will never run
        self._core._aio_loop = running
        self._core._aio_tid = _get_ident()
        reactor = self._io_reactor or self.ctx._reactor
        if reactor is not None and reactor.__class__ is LoopReactor:
            reactor.attach(running)  # io_on_loop: the connections follow to this loop
        return running

    def _aio_wake(self) -> None:
        """Called by the core from any thread: schedule the queue handler once."""
        if self._aio_scheduled:
            return
        self._core._aio_scheduled = True
        loop = self._aio_loop
        try:
            if _get_ident() == self._aio_tid:
                loop.call_soon(self._aio_handle)
            else:
                loop.call_soon_threadsafe(self._aio_handle)
        except (RuntimeError, AttributeError):  # the loop is closed or gone
            self._core._aio_scheduled = False

    def _aio_watch(self) -> None:
        if not self._aio_watching:
            self._core._aio_watching = True
            self.add_waiter(self._aio_waker)

    def _aio_unwatch(self) -> None:
        if self._aio_watching:
            self._core._aio_watching = False
            self.remove_waiter(self._aio_waker)

    def _aio_forget(self, fut: _Future) -> None:
        """A queued future finished outside the handler (cancelled, timed out)."""
        timer = fut._timer
        if timer is not None:
            fut._timer = None
            timer.cancel()
        self._core._aio_pending -= 1
        if self._aio_pending <= 0:
            self._core._aio_pending = 0
            self._aio_rq.clear()
            self._aio_sq.clear()
            self._aio_unwatch()

    def _aio_timeout(self, fut: _Future) -> None:
        fut._timer = None
        if fut.done():
            return
        fut._sock = None
        fut.set_exception(Again())
        self._aio_forget(fut)

    def _aio_cancel_all(self) -> None:
        for q in (self._aio_rq, self._aio_sq):
            while q:
                fut = q.popleft()
                if not fut.done():
                    fut.cancel()
        self._core._aio_pending = 0
        self._aio_unwatch()

    def _aio_fail_all(self, exc_type) -> None:
        for q in (self._aio_rq, self._aio_sq):
            while q:
                fut = q.popleft()
                if not fut.done():
                    fut._sock = None
                    if fut._timer is not None:
                        fut._timer.cancel()
                    fut.set_exception(exc_type())
        self._core._aio_pending = 0
        self._aio_unwatch()

    def _aio_queue(self, q: deque, fut: _Future, timeo_opt: int) -> None:
        fut._sock = self
        timeo = self.options.get(timeo_opt)
        if timeo >= 0:
            fut._timer = self._aio_loop.call_later(timeo / 1000.0, self._aio_timeout, fut)
        q.append(fut)
        self._core._aio_pending += 1
        reactor = self._io_reactor
        if (reactor is not None and reactor.__class__ is LoopReactor
                and reactor.loop is not self._aio_loop):
            # Our connections run on another loop: if that one has stopped (its thread's
            # asyncio.run ended), nobody would deliver what we wait for: drive them here.
            reactor.attach(self._aio_loop)
        if not self._aio_watching:
            self._aio_watch()
            # A message (or room) may have come between our attempt and the registration,
            # and its wake-up edge went to nobody: look again now.
            self._aio_process()

    def _aio_handle(self) -> None:
        self._core._aio_scheduled = False
        self._aio_process()

    def _aio_process(self) -> None:
        """Complete queued futures, in order, for as long as the core can (loop thread)."""
        if self.closed:
            self._aio_cancel_all()
            return
        rq = self._aio_rq
        while rq:
            fut = rq[0]
            if fut.done():
                rq.popleft()
                continue
            try:
                data = self._take_frame() if fut._kind == _FRAME else self._take_msg()
            except Exception as e:
                rq.popleft()
                self._aio_settle(fut)
                fut.set_exception(e)
                continue
            if data is _NOTHING:
                break
            rq.popleft()
            self._aio_settle(fut)
            self._deliver(fut, data)
        sq = self._aio_sq
        while sq:
            fut = sq[0]
            if fut.done():
                sq.popleft()
                continue
            try:
                sent = self.try_send(fut._arg)
            except Exception as e:
                sq.popleft()
                self._aio_settle(fut)
                fut.set_exception(e)
                continue
            if not sent:
                break
            sq.popleft()
            self._aio_settle(fut)
            fut.set_result(fut._kind)
        if self._aio_pending and self.ctx._terminated:
            self._aio_fail_all(ContextTerminated)
        elif not self._aio_pending:
            rq.clear()
            sq.clear()
            self._aio_unwatch()

    def _aio_settle(self, fut: _Future) -> None:
        fut._sock = None
        timer = fut._timer
        if timer is not None:
            fut._timer = None
            timer.cancel()
        self._core._aio_pending -= 1

    # -- taking from the core, and giving back -------------------------------------------
    # Where the next message comes from, in order: the rest of a message being read frame
    # by frame (``_rx``, shared with the sync methods), then messages given back by
    # cancelled receivers (``_aio_back``, kept in delivery order), then the pattern.
    def _next_msg(self):
        back = self._aio_back
        if back:
            return back.pop(0)[1]
        if self._mailbox:
            self._process()
        return self.pattern.recv()

    def _take_msg(self):
        rx = self._rx
        if rx is not None:
            self._core._rx = None
            self._core._rcvmore = False
            rx.reverse()
            return rx
        msg = self._next_msg()
        if msg is None:
            return _NOTHING
        return as_frames(msg)

    def _take_frame(self):
        """One frame; ``_aio_whole`` tells whether it was a whole (one-frame) message."""
        rx = self._rx
        if rx is not None:
            frame = rx.pop()
            if not rx:
                self._core._rx = None
                self._core._rcvmore = False
            self._core._aio_whole = False
            return frame
        msg = self._next_msg()
        if msg is None:
            return _NOTHING
        if msg.__class__ is bytes:  # a one-frame message, as pipes carry it
            self._core._rcvmore = False
            self._core._aio_whole = True
            return msg
        if len(msg) == 1:
            self._core._rcvmore = False
            self._core._aio_whole = True
            return msg[0]
        # msg may be shared (inproc fan-out to several sockets): never mutate it.
        self._core._rx = msg[:0:-1]
        self._core._rcvmore = True
        self._core._aio_whole = False
        return msg[0]

    def _aio_give_back(self, kind: int, seq: int, data: Any) -> None:
        """Put a delivered but unseen message (or frame) back in front of the queue."""
        if self.closed:
            return
        if kind == _MSG or kind == _FRAME_WHOLE:
            bisect.insort(self._aio_back, (seq, data))  # a whole frame is a message as is
        else:  # a frame of a message being read frame by frame
            rx = self._rx
            if rx is None:
                self._core._rx = [data]
                self._core._rcvmore = False
            else:
                rx.append(data)
                self._core._rcvmore = True
        if self._aio_pending:
            self._aio_wake()

    def _events(self) -> int:
        ev = super()._events()
        if self._aio_back:
            ev |= _POLLIN
        return ev

    def _deliver(self, fut: _Future, data: Any) -> None:
        load = fut._arg
        if load is None:
            result = data
        else:
            try:
                result = load(data)
            except Exception as e:
                fut.set_exception(e)
                return
        fut._taken = data
        fut._home = self
        self._core._aio_seq = seq = self._aio_seq + 1
        fut._seq = seq
        if fut._kind == _FRAME and self._aio_whole:
            fut._kind = _FRAME_WHOLE
        fut.set_result(result)

    def _make_frame(self, data: bytes) -> Frame:
        f = Frame(data)
        f.more = self._rcvmore
        peer = self.last_peer
        if peer is not None:
            f._props = peer.properties
        pattern = self.pattern
        if pattern.single_part:  # a draft type: the message's routing id / group
            f.routing_id = pattern.rx_routing_id
            f.group = pattern.rx_group
        return f

    def _make_frames(self, msg: list) -> list:
        peer = self.last_peer
        frames = _as_frames(msg, peer.properties if peer is not None else None)
        pattern = self.pattern
        if pattern.single_part:
            for f in frames:
                f.routing_id = pattern.rx_routing_id
                f.group = pattern.rx_group
        return frames

    # -- receiving -------------------------------------------------------------------------
    def _recv(self, kind: int, flags: int, load: Any) -> _Future:
        loop = self._aio_get_loop()
        if self.closed:
            return _failed(loop, ZMQError(_ENOTSOCK))
        if not self._aio_rq or flags & _DONTWAIT:
            try:
                data = self._take_frame() if kind == _FRAME else self._take_msg()
            except Exception as e:
                return _failed(loop, e)
            if data is not _NOTHING:
                fut = loop.create_future()
                if load is None:
                    fut.set_result(data)
                else:
                    try:
                        fut.set_result(load(data))
                    except Exception as e:
                        fut.set_exception(e)
                return fut
            if flags & _DONTWAIT:
                return _failed(loop, Again())
            if self.ctx._terminated:
                return _failed(loop, ContextTerminated())
        fut = _new_future(loop)
        fut._kind = kind
        fut._arg = load
        self._aio_queue(self._aio_rq, fut, _RCVTIMEO)
        return fut

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        """Receive one frame: a Future for bytes (or a Frame with ``copy=False``)."""
        return self._recv(_FRAME, int(flags), None if copy else self._make_frame)

    def recv_multipart(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        """Receive a whole message: a Future for a list of bytes (or Frames)."""
        return self._recv(_MSG, int(flags), None if copy else self._make_frames)

    def recv_string(self, flags: int = 0, encoding: str = "utf-8") -> Any:
        return self._recv(_FRAME, int(flags), lambda b: b.decode(encoding))

    def recv_into(self, buffer: Any, /, *, nbytes: int = 0, flags: int = 0) -> Any:
        """A Future for one frame received into ``buffer``: its full size (see the sync
        ``recv_into``)."""
        view = writable_view(buffer)
        return self._recv(_FRAME, int(flags), lambda b: _into(view, nbytes, b))

    recv_unicode = recv_string

    def recv_pyobj(self, flags: int = 0) -> Any:
        return self._recv(_FRAME, int(flags), pickle.loads)

    def recv_json(self, flags: int = 0, **kwargs: Any) -> Any:
        return self._recv(_FRAME, int(flags), lambda b: json.loads(b.decode("utf-8"), **kwargs))

    def recv_serialized(self, deserialize: Any, flags: int = 0, copy: bool = True) -> Any:
        if copy:
            return self._recv(_MSG, int(flags), deserialize)
        return self._recv(_MSG, int(flags), lambda msg: deserialize(self._make_frames(msg)))

    # -- sending ---------------------------------------------------------------------------
    def _send(self, msg, flags: int, track: bool) -> _Future:
        loop = self._aio_get_loop()
        result = _DONE if track else None
        if self.closed:
            return _failed(loop, ZMQError(_ENOTSOCK))
        if not self._aio_sq:
            try:
                sent = self.try_send(msg)
            except Exception as e:
                return _failed(loop, e)
            if sent:
                return _done(loop, result)
            if self.ctx._terminated:
                return _failed(loop, ContextTerminated())
        if flags & _DONTWAIT:
            return _failed(loop, Again())
        fut = _new_future(loop)
        fut._kind = result
        fut._arg = msg
        self._aio_queue(self._aio_sq, fut, _SNDTIMEO)
        return fut

    def send(
        self, data: Any, flags: int = 0, copy: bool = True, track: bool = False,
        routing_id: int | None = None, group: str | None = None,
    ) -> Any:
        """Send one frame; a Future that completes when the message is queued."""
        flags = int(flags)
        track = track and not copy  # as pyzmq: a copied message is not tracked
        try:
            if data.__class__ is not bytes:
                if isinstance(data, Frame):  # pyzmq sends a Frame's routing id and group
                    routing_id = data.routing_id if routing_id is None else routing_id
                    group = data.group if group is None else group
                data = _as_bytes(data)
            if self.pattern.single_part:  # a draft type: one frame, maybe addressed
                if flags & _SNDMORE:
                    raise ZMQError(C.EINVAL)
                if routing_id is not None or group is not None:
                    return self._send(addressed(data, routing_id, group), flags, track)
            elif routing_id is not None or group is not None:
                addressed(data, routing_id, group)  # checked, then ignored (as libzmq)
        except Exception as e:
            return _failed(self._aio_get_loop(), e)
        if flags & _SNDMORE:
            if not self._tx and flags & _DONTWAIT and not self._aio_sq:
                if self._mailbox:
                    self._process()
                if not self.pattern.can_send():
                    return _failed(self._aio_get_loop(), Again())
            self._tx.append(data)
            return _done(self._aio_get_loop(), _DONE if track else None)
        tx = self._tx
        if tx:
            tx.append(data)
            self._core._tx = []
            return self._send(tx, flags, track)
        # One frame travels bare where the pattern takes it (as the sync send does).
        return self._send(data if self.pattern.bare_send else [data], flags, track)

    def send_multipart(
        self, msg_parts: Any, flags: int = 0, copy: bool = True, track: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Send a whole message; a Future that completes when it is queued."""
        flags = int(flags)
        track = track and not copy  # as pyzmq: a copied message is not tracked
        if self.pattern.single_part:  # a draft type: one frame (a Frame keeps its routing id)
            parts = list(msg_parts)
            if len(parts) != 1:
                return _failed(self._aio_get_loop(), ZMQError(C.EINVAL))
            return self.send(parts[0], flags, copy=copy, track=track)
        try:
            parts = [p if p.__class__ is bytes else _as_bytes(p) for p in msg_parts]
            if not parts:
                raise ZMQError(C.EINVAL)
        except Exception as e:
            return _failed(self._aio_get_loop(), e)
        if self._tx:
            parts = self._tx + parts
            self._core._tx = []
        if flags & _SNDMORE:
            self._core._tx = parts
            return _done(self._aio_get_loop(), _DONE if track else None)
        return self._send(parts, flags, track)

    # send_string / send_pyobj / send_json / send_serialized come from the sync class:
    # they call self.send / self.send_multipart and return what those return.

    # -- polling ---------------------------------------------------------------------------
    def poll(self, timeout: int | None = None, flags: int = C.POLLIN) -> Any:
        """A Future for the events (``POLLIN`` / ``POLLOUT``) ready within ``timeout`` ms."""
        if self.closed:
            raise ZMQError(C.ENOTSUP)
        flags = int(flags)

        def check() -> int:
            if self.closed:  # as pyzmq: closing the socket cancels its poll
                raise asyncio.CancelledError()
            return self._events() & flags

        return _watch(self._aio_get_loop(), [self], [], check, timeout, 0)


def _watch(loop, zsocks: list, raw: list, check, timeout, empty) -> asyncio.Future:
    """A Future for the first truthy ``check()`` after any of ``zsocks`` or ``raw`` wakes.

    ``timeout`` in ms (None or negative: forever) resolves it with ``empty``.
    """
    fut = loop.create_future()
    try:
        result = check()
    except Exception as e:
        fut.set_exception(e)
        return fut
    if result or timeout == 0:
        fut.set_result(result or empty)
        return fut
    tid = _get_ident()
    scheduled = False

    def run() -> None:
        nonlocal scheduled
        scheduled = False
        if fut.done():
            return
        try:
            result = check()
        except asyncio.CancelledError:
            fut.cancel()
            return
        except Exception as e:
            fut.set_exception(e)
            return
        if result:
            fut.set_result(result)
        elif any(s.ctx._terminated for s in zsocks):
            fut.set_exception(ContextTerminated())

    def wake(*args: Any) -> None:
        nonlocal scheduled
        if scheduled or fut.done():
            return
        scheduled = True
        try:
            if _get_ident() == tid:
                loop.call_soon(run)
            else:
                loop.call_soon_threadsafe(run)
        except RuntimeError:
            scheduled = False

    for s in zsocks:
        s.add_waiter(wake)
    fds = []
    for fd, mask in raw:
        if mask & _POLLIN:
            loop.add_reader(fd, wake)
        if mask & _POLLOUT:
            loop.add_writer(fd, wake)
        fds.append((fd, mask))
    timer = None
    if timeout is not None and timeout > 0:
        def expire() -> None:
            if not fut.done():
                fut.set_result(empty)

        timer = loop.call_later(timeout / 1000.0, expire)

    def cleanup(f) -> None:
        for s in zsocks:
            s.remove_waiter(wake)
        if not loop.is_closed():
            for fd, mask in fds:
                if mask & _POLLIN:
                    loop.remove_reader(fd)
                if mask & _POLLOUT:
                    loop.remove_writer(fd)
        if timer is not None:
            timer.cancel()

    fut.add_done_callback(cleanup)
    # The state may have changed between the first check and the registrations.
    wake()
    return fut


def _raw_fd(obj: Any) -> int:
    return obj if isinstance(obj, int) else obj.fileno()


class Poller(_SyncPoller):
    """``Poller`` whose ``poll`` returns a Future for the list of (socket, events)."""

    def poll(self, timeout: int | None = -1) -> Any:  # type: ignore[override]
        loop = _loop()
        zsocks = [s for s, _ in self.sockets if isinstance(s, SocketBase)]
        for s in zsocks:  # io_on_loop contexts: their connections follow to this loop
            reactor = s._io_reactor or s.ctx._reactor
            if reactor is not None and reactor.__class__ is LoopReactor:
                reactor.attach(loop)
        raw = [(_raw_fd(s), f) for s, f in self.sockets if not isinstance(s, SocketBase)]
        sync_poll = _SyncPoller.poll

        def check() -> list:
            return sync_poll(self, 0)

        return _watch(loop, zsocks, raw, check, timeout, [])


def _find_context(address: int) -> _SyncContext:
    """The live purezmq context whose ``underlying`` is ``address`` (pyzmq's shadow idiom)."""
    return addresses.find(address, _SyncContext, "context")


class Context(_SyncContext):
    """A context whose ``socket()`` makes async sockets; ``Context(sync_ctx)`` shadows.

    By default (``io_on_loop=True``) the context's connections run on the running event
    loop, not on an I/O thread (see :mod:`purezmq.asyncio._reactor`); ``io_on_loop=False``
    or ``PUREZMQ_ASYNCIO_IO=thread`` in the environment keeps the I/O thread.  On the loop,
    every socket of the context, sync or async, does its I/O only while that loop runs (or
    while ``term()`` pumps it): a blocking call in the loop's thread would wait for itself.
    """

    __slots__ = ("_shadow_of",)
    _socket_class = Socket
    _instance = None  # not shared with purezmq.Context.instance()
    _instance_pid = None

    def __init__(
        self, io_threads: Any = 1, shadow: Any = 0, *, io_on_loop: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(io_threads, _SyncContext):
            shadow, io_threads = io_threads, 1
        if shadow:
            if io_on_loop:
                raise ValueError("a shadow context runs its I/O where the original does")
            orig = shadow if isinstance(shadow, _SyncContext) else _find_context(int(shadow))
            orig = getattr(orig, "_shadow_of", None) or orig
            object.__setattr__(self, "_shadow_of", orig)
            object.__setattr__(self, "__dict__", orig.__dict__)
            return
        object.__setattr__(self, "_shadow_of", None)
        super().__init__(io_threads, **kwargs)
        if io_on_loop is None:  # on the loop unless asked for the I/O thread
            io_on_loop = os.environ.get("PUREZMQ_ASYNCIO_IO", "").lower() != "thread"
        object.__setattr__(self, "_io_on_loop", bool(io_on_loop))

    @classmethod
    def shadow(cls, address: Any) -> Context:
        return cls(shadow=address)

    @property
    def underlying(self) -> int:
        orig = getattr(self, "_shadow_of", None)
        return id(orig) if orig is not None else id(self)

    @property
    def io_on_loop(self) -> bool:
        """Whether the connections run on the event loop (no I/O thread)."""
        return bool(self.__dict__.get("_io_on_loop"))

    def _get_reactor(self):
        """The reactor for a socket's connections (asked at its first bind/connect).

        On the loop (``io_on_loop``), one :class:`LoopReactor` per event loop: a socket
        bound or connected while a loop runs has its connections on that loop, so loops
        in different threads never wait for each other (pyzmq's contexts serve every
        thread).  Sockets bound or connected with no loop running share one more
        reactor, which follows the first loop that uses one of them.
        """
        if not self.__dict__.get("_io_on_loop"):
            return super()._get_reactor()
        try:
            loop = _get_running_loop()
        except RuntimeError:
            loop = None
        d = self.__dict__
        with self._lock:
            unbound = d.get("_unbound_reactor")
            if loop is None or (unbound is not None and unbound.loop is loop):
                if unbound is None:
                    unbound = d["_unbound_reactor"] = self._new_reactor()
                return unbound
            per_loop = d.setdefault("_loop_reactors", {})
            reactor = per_loop.get(loop)
            if reactor is None:
                for old in [lp for lp in per_loop if lp.is_closed()]:
                    del per_loop[old]  # its reactor lives on in its sockets (and for term)
                reactor = per_loop[loop] = self._new_reactor()
        reactor.attach(loop)
        return reactor

    def _new_reactor(self) -> LoopReactor:
        reactor = LoopReactor()
        self.__dict__.setdefault("_all_reactors", []).append(reactor)
        if self._reactor is None:  # the base class's view: the context has a reactor
            object.__setattr__(self, "_reactor", reactor)
        return reactor

    def term(self) -> None:
        reactors = self.__dict__.get("_all_reactors") or []
        if reactors and not self._closed:
            # Mark terminated and wake the sockets as the core does, then, for each
            # reactor no loop will drive while we wait (we are in its loop's thread, or
            # the loop is gone), drive it here until its closed sockets have finished
            # lingering.
            object.__setattr__(self, "_terminated", True)
            for sock in self._snapshot(self._sockets):
                sock._notify()
            for reactor in reactors:
                if reactor.must_pump():
                    reactor.pump(lambda r=reactor: not any(
                        s._io_reactor is r for s in self._snapshot(self._open)
                    ))
        super().term()
        for reactor in reactors:
            reactor.stop()
        self.__dict__.pop("_all_reactors", None)
        self.__dict__.pop("_loop_reactors", None)
        self.__dict__.pop("_unbound_reactor", None)

    def __del__(self) -> None:
        if getattr(self, "_shadow_of", None) is None:
            super().__del__()

    _repr_cls = "purezmq.asyncio.Context"


class ZMQEventLoop(asyncio.SelectorEventLoop):
    """Deprecated in pyzmq 17: any asyncio loop works."""


def install() -> None:
    """Deprecated in pyzmq 17: nothing to install."""
    warnings.warn(
        "purezmq.asyncio.install is deprecated: any asyncio loop works.",
        DeprecationWarning,
        stacklevel=2,
    )
