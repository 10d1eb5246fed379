"""``ZMQStream``: callbacks for a purezmq socket on a tornado ``IOLoop`` (pyzmq's API).

Theory of operation.  As pyzmq's, a stream registers its socket with the IOLoop
(``io_loop.add_handler(socket, handler, READ)``: tornado watches ``socket.fileno()``, the
socket's ``FD``), so the loop owns it as it owns any file object: ``IOLoop.close(all_fds=
True)`` closes it, and ``Context.term()`` can then return.  The ``FD`` is edge-triggered,
as libzmq's: it becomes readable when the socket's state may have changed (any thread: an
engine on the I/O thread, an inproc peer, a pipe draining) and reading ``EVENTS`` resets it.

The handler reads ``EVENTS`` and, like pyzmq's, does at most one receive (handed to the
``on_recv`` callback) and one queued send (reported to ``on_send``) per loop iteration, so
several streams on one loop take turns; if the socket can still do what the stream wants,
it schedules itself again (``add_callback``), because no new edge will come for messages
already there.

Sends are always queued (``send*`` never touch the socket): they go out, in order, when
the socket is writable, or at ``flush()``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import pickle
import sys
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from tornado.ioloop import IOLoop
from tornado.log import gen_log

from purezmq import constants as C
from purezmq.error import Again, ZMQError
from purezmq.sugar.poll import Poller
from purezmq.sugar.socket import Socket, _sync_view
from purezmq.utils import jsonapi

__all__ = ["ZMQStream"]

POLLIN = C.POLLIN
POLLOUT = C.POLLOUT
_POLLIN = int(C.POLLIN)
_POLLOUT = int(C.POLLOUT)
_NOBLOCK = int(C.NOBLOCK)
_EVENTS = int(C.EVENTS)

# The socket methods a stream offers as its own attributes (pyzmq links the same ones).
_LINKED = (
    "bind",
    "bind_to_random_port",
    "connect",
    "getsockopt",
    "getsockopt_string",
    "getsockopt_unicode",
    "setsockopt",
    "setsockopt_string",
    "setsockopt_unicode",
)


def _is_async(sock: Any) -> bool:
    aio = sys.modules.get("purezmq.asyncio")  # not imported: no async socket can exist
    return aio is not None and isinstance(sock, aio.Socket)


class ZMQStream:
    """Register callbacks for when a socket receives, and queue sends that go out when it
    can send (pyzmq's ``zmq.eventloop.zmqstream.ZMQStream``).

    * ``on_recv(callback, copy=True)``: ``callback(msg)`` for each message, ``msg`` being
      the list ``recv_multipart`` returns (bytes, or Frames with ``copy=False``).
    * ``send(...)`` / ``send_multipart(...)`` and the ``send_*`` helpers queue a message;
      ``on_send(callback)`` is then called as ``callback(msg, status)`` once it is sent.
    * ``stop_on_recv()`` / ``stop_on_send()`` turn the callbacks off.

    Callbacks may be coroutine functions: the coroutine is scheduled on the loop, and the
    next message does not wait for it.  ``bind``, ``connect``, ``getsockopt``, ... are the
    socket's own methods (``stream.bind is stream.socket.bind`` in spirit); receive
    directly from ``stream.socket`` only with the recv callback stopped.
    """

    socket: Socket | None
    io_loop: IOLoop
    poller: Poller
    bind: Callable[..., Any]
    bind_to_random_port: Callable[..., int]
    connect: Callable[..., Any]
    getsockopt: Callable[..., Any]
    getsockopt_string: Callable[..., str]
    getsockopt_unicode: Callable[..., str]
    setsockopt: Callable[..., None]
    setsockopt_string: Callable[..., None]
    setsockopt_unicode: Callable[..., None]

    def __init__(self, socket: Socket, io_loop: IOLoop | None = None) -> None:
        if _is_async(socket):
            warnings.warn(
                "ZMQStream only supports the base zmq.Socket class. Use "
                "zmq.Socket(shadow=other_socket) or ctx.socket(type, socket_class=zmq.Socket)"
                " to create a base zmq.Socket object, no matter what other kind of socket "
                "your Context creates.",
                RuntimeWarning,
                stacklevel=2,
            )
            socket = _sync_view(socket)
        self.socket = socket
        self.io_loop = io_loop or IOLoop.current()
        self.poller = Poller()  # pyzmq exposes one; the stream itself needs none
        self._recv_callback: Callable[..., Any] | None = None
        self._recv_copy = False
        self._send_callback: Callable[..., Any] | None = None
        self._send_queue: deque[tuple[Sequence[Any], dict[str, Any]]] = deque()
        self._close_callback: Callable[[], Any] | None = None
        self._scheduled = False  # our handler is on the loop's queue
        self._fd = socket.FD  # to unregister it if the socket is closed behind our back
        for name in _LINKED:
            setattr(self, name, getattr(socket, name))
        self.io_loop.add_handler(socket, self._handle_events, self.io_loop.READ)
        if socket.ctx.__dict__.get("_io_on_loop"):
            # A purezmq.asyncio context runs its connections on the loop: make sure they
            # follow to this IOLoop's (attaching must happen in the loop's thread).
            self.io_loop.add_callback(self._attach_reactor)

    def _attach_reactor(self) -> None:
        sock = self.socket
        if sock is None or sock.closed:
            return
        reactor = sock._io_reactor or sock.ctx._reactor
        attach = getattr(reactor, "attach", None)  # an on-loop reactor (not an I/O thread)
        if attach is not None:
            attach(asyncio.get_running_loop())  # unless another thread's loop drives it

    # -- callbacks ---------------------------------------------------------------------
    def on_recv(self, callback: Callable[[list], Any] | None, copy: bool = True) -> None:
        """Call ``callback(msg)`` with each received message (a list of frames, Frames
        if ``copy`` is False); ``None`` stops receiving.  Replaces any earlier callback."""
        self._check_closed()
        assert callback is None or callable(callback)  # pyzmq raises AssertionError too
        self._recv_callback = callback
        self._recv_copy = copy
        self._update()

    def on_recv_stream(
        self, callback: Callable[[ZMQStream, list], Any] | None, copy: bool = True
    ) -> None:
        """As :meth:`on_recv`, called as ``callback(stream, msg)``: one callback for
        several streams."""
        self._check_closed()
        assert callback is None or callable(callback)
        self.on_recv(None if callback is None else functools.partial(callback, self), copy)

    def stop_on_recv(self) -> None:
        """Stop receiving: messages wait in the socket until a new ``on_recv``."""
        self.on_recv(None)

    def on_send(self, callback: Callable[[Sequence, Any], Any] | None) -> None:
        """Call ``callback(msg, status)`` after each queued message is sent; ``status`` is
        what ``send_multipart`` returned (None, a MessageTracker, or the ZMQError).
        Queued messages are sent with or without a callback."""
        self._check_closed()
        assert callback is None or callable(callback)
        self._send_callback = callback

    def on_send_stream(self, callback: Callable[[ZMQStream, Sequence, Any], Any] | None) -> None:
        """As :meth:`on_send`, called as ``callback(stream, msg, status)``."""
        self._check_closed()
        assert callback is None or callable(callback)
        self.on_send(None if callback is None else functools.partial(callback, self))

    def stop_on_send(self) -> None:
        """Stop calling the send callback (queued messages are still sent)."""
        self.on_send(None)

    def on_err(self, callback: Callable[..., Any]) -> None:
        """Deprecated in pyzmq, and does nothing: errors are logged."""
        gen_log.warning("on_err does nothing, and will be removed")

    def stop_on_err(self) -> None:
        """Deprecated in pyzmq, and does nothing."""
        gen_log.warning("on_err does nothing, and will be removed")

    def set_close_callback(self, callback: Callable[[], Any] | None) -> None:
        """Call ``callback()`` when the stream is closed."""
        self._close_callback = callback

    # -- sending -----------------------------------------------------------------------
    def send_multipart(
        self,
        msg: Sequence[Any],
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        callback: Callable[[Sequence, Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue a message to send when the socket is writable; a ``callback`` becomes
        the stream's ``on_send`` callback (as in pyzmq)."""
        self._check_closed()
        kwargs.update(flags=flags, copy=copy, track=track)
        self._send_queue.append((msg, kwargs))
        callback = callback or self._send_callback
        if callback is not None:
            self.on_send(callback)
        self._update()

    def send(
        self,
        msg: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        callback: Callable[[Sequence, Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue a one-frame message (``on_send`` sees it as ``[msg]``)."""
        self.send_multipart(
            [msg], flags=flags, copy=copy, track=track, callback=callback, **kwargs
        )

    def send_string(
        self,
        u: str,
        flags: int = 0,
        encoding: str = "utf-8",
        callback: Callable[[Sequence, Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue ``u`` encoded with ``encoding``."""
        if not isinstance(u, str):
            raise TypeError("unicode/str objects only")
        self.send(u.encode(encoding), flags=flags, callback=callback, **kwargs)

    send_unicode = send_string

    def send_json(
        self,
        obj: Any,
        flags: int = 0,
        callback: Callable[[Sequence, Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue ``obj`` as JSON (``zmq.utils.jsonapi.dumps``); ``kwargs`` go to send."""
        self.send(jsonapi.dumps(obj), flags=flags, callback=callback, **kwargs)

    def send_pyobj(
        self,
        obj: Any,
        flags: int = 0,
        protocol: int = -1,
        callback: Callable[[Sequence, Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue ``obj`` pickled with ``protocol`` (the highest by default)."""
        self.send(pickle.dumps(obj, protocol), flags=flags, callback=callback, **kwargs)

    # -- state -------------------------------------------------------------------------
    def receiving(self) -> bool:
        """Whether a recv callback is registered (the stream reads the socket)."""
        return self._recv_callback is not None

    def sending(self) -> bool:
        """Whether messages are queued, waiting to be sent."""
        return bool(self._send_queue)

    def closed(self) -> bool:
        """Whether the stream is closed; a socket closed behind its back closes it."""
        sock = self.socket
        if sock is None:
            return True
        if sock.closed:
            self.close()
            return True
        return False

    def close(self, linger: int | None = None) -> None:
        """Close the socket (with ``linger``, in ms) and the stream, then run the close
        callback.  Closing again does nothing."""
        sock = self.socket
        if sock is None:
            return
        self.socket = None
        if sock.closed:  # closed directly: its FD is gone, unregister the number
            self.io_loop.remove_handler(self._fd)
        else:
            self.io_loop.remove_handler(sock)
            sock.close(linger)
        if self._close_callback is not None:
            self._run_callback(self._close_callback)

    def _check_closed(self) -> None:
        if self.socket is None:
            raise OSError("Stream is closed")

    # -- flushing ----------------------------------------------------------------------
    def flush(self, flag: int = C.POLLIN | C.POLLOUT, limit: int | None = None) -> int:
        """Handle pending messages now, bypassing the loop; return how many.

        ``flag`` says which: ``POLLIN`` receives (passing messages to the recv callback,
        or dropping them if there is none), ``POLLOUT`` sends the queue.  Stops when
        nothing more is pending or after ``limit`` messages (sends and receives count).
        """
        self._check_closed()
        flag = int(flag)
        count = 0
        try:
            while not limit or count < limit:
                sock = self.socket
                if sock is None:
                    break
                want = flag & _POLLIN
                if flag & _POLLOUT and self._send_queue:
                    want |= _POLLOUT
                events = sock.getsockopt(_EVENTS) & want if want else 0
                if not events:
                    break
                if events & _POLLIN:
                    self._handle_recv()
                    count += 1
                    if self.socket is None:
                        break
                if events & _POLLOUT and self._send_queue:
                    self._handle_send()
                    count += 1
        finally:
            self._rearm()
        return count

    # -- the machinery -----------------------------------------------------------------
    def _wants(self) -> int:
        return (_POLLIN if self._recv_callback is not None else 0) | (
            _POLLOUT if self._send_queue else 0
        )

    def _schedule(self) -> None:
        """Run the handler on the loop's next iteration (once, however often asked)."""
        if not self._scheduled:
            self._scheduled = True
            self.io_loop.add_callback(self._handle)

    def _update(self) -> None:
        """The callbacks or the queue changed: what the socket can already do will bring
        no new edge on its FD, so look at it on the loop."""
        sock = self.socket
        if sock is not None and self._wants():
            self._schedule()

    def _rearm(self) -> None:
        """After handling: look again on the next iteration if the socket can still do
        what we want (edge-triggered: no new edge comes for it)."""
        sock = self.socket
        if sock is None:
            return
        if sock.closed:
            self._schedule()  # the handler closes the stream
            return
        wants = self._wants()
        if wants and sock.getsockopt(_EVENTS) & wants:
            self._schedule()

    def _handle_events(self, fd: Any, events: int) -> None:
        """The IOLoop's handler: the socket's FD is readable."""
        self._handle(scheduled=False)

    def _handle(self, scheduled: bool = True) -> None:
        """On the loop: one receive and one send, as the socket allows."""
        if scheduled:
            self._scheduled = False
        sock = self.socket
        if sock is None:
            return
        if sock.closed:  # closed directly, not through the stream
            self.close()
            return
        try:
            events = sock.getsockopt(_EVENTS)  # resets the FD's edge
        except ZMQError as e:
            gen_log.warning("Got events for stream %s after its context ended: %s", self, e)
            self.closed()
            return
        try:
            if events & _POLLIN and self._recv_callback is not None:
                self._handle_recv()
                if self.socket is None:
                    return
            if events & _POLLOUT and self._send_queue:
                self._handle_send()
        finally:
            self._rearm()

    def _handle_recv(self) -> None:
        try:
            msg = self.socket.recv_multipart(_NOBLOCK, copy=self._recv_copy)
        except Again:
            return  # someone else took it: nothing to do
        callback = self._recv_callback
        if callback is not None:
            self._run_callback(callback, msg)

    def _handle_send(self) -> None:
        msg, kwargs = self._send_queue.popleft()
        try:
            status = self.socket.send_multipart(msg, **kwargs)
        except ZMQError as e:
            gen_log.error("SEND Error: %s", e)
            status = e
        callback = self._send_callback
        if callback is not None:
            self._run_callback(callback, msg, status)

    def _run_callback(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run a user callback: errors are logged (and raised, as pyzmq does); a coroutine
        is scheduled on the loop, its error logged when it finishes."""
        try:
            result = callback(*args)
        except Exception:
            gen_log.error("Uncaught exception in ZMQStream callback", exc_info=True)
            raise
        if inspect.isawaitable(result):
            loop = getattr(self.io_loop, "asyncio_loop", None)
            fut = asyncio.ensure_future(result, loop=loop)
            self.io_loop.add_future(fut, _log_failure)


def _log_failure(fut: asyncio.Future) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        exc = fut.exception()
        gen_log.error(
            "Uncaught exception in ZMQStream callback",
            exc_info=(type(exc), exc, exc.__traceback__),
        )
