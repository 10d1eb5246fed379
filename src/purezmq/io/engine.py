"""The stream engine: one ZMTP connection over a stream socket (tcp or ipc).

Theory of operation.  The engine lives on the I/O thread.  It reads as much as the kernel
has (one large ``recv``), feeds it to its :class:`ZmtpConnection`, and appends the decoded
messages to the peer's inbound pipe in one batch (one wake-up for the socket).  When that
pipe reaches its high-water mark the engine stops reading until the socket drains it below
the low-water mark.  Writing drains *all* queued messages of the outbound pipe, encodes them
into one buffer and sends it with as few ``send`` calls as the kernel allows; an unsent tail
waits for writability, and the pipe then fills up to its mark: that is the back-pressure.

After the handshake the engine hands a :class:`Peer` to the socket (or, for a connecting
session, re-uses the session's peer so queued messages survive reconnects).
"""

from __future__ import annotations

import functools
import logging
import socket as _socket
import threading
import time
from errno import EPIPE
from typing import TYPE_CHECKING

from purezmq import constants as C
from purezmq.plumbing.pipe import Peer, Pipe, _nothing
from purezmq.security import peer_properties
from purezmq.zmtp.connection import ZmtpConnection
from purezmq.zmtp.errors import ZmtpError
from purezmq.zmtp.events import GroupMembership, HandshakeSucceeded, Subscription, ZapRequested
from purezmq.zmtp.metadata import get_all

if TYPE_CHECKING:
    from purezmq.core.socket import SocketBase

log = logging.getLogger("purezmq")

RECV_SIZE = 1 << 17  # 128 KiB: 1 KiB messages ran ~10% faster than with 64 KiB, 256 KiB slower
# A send on a connection idle for longer than this is written by the caller's thread at
# once (no hop to the I/O thread: the latency path); busier traffic is left to the I/O
# thread, which batches it (the throughput path).
DIRECT_IDLE = 15e-6
# How long the I/O thread stands aside after a hosting caller took over reading (io/host.py)
# before it checks whether to read again: short enough for pollers, long enough that a
# request-reply loop never hands reading back and forth.
HOST_RECHECK = 0.002
PAUSE_CHECK = 0.25  # s: how often a connection paused at the HWM looks for a lost wake-up


def _locked(method):
    """I/O-thread entry points hold the engine's lock (a caller's thread may be writing)."""

    @functools.wraps(method)
    def wrapper(self, *args):
        with self._lock:
            return method(self, *args)

    return wrapper
SEND_BATCH = 1 << 18
SCATTER_MIN = 1 << 15  # a last buffer this big goes out with sendmsg, not joined


class StreamEngine:
    """Drives one connection; see the module docstring."""

    def __init__(
        self,
        reactor,
        sock: _socket.socket,
        owner: SocketBase,
        endpoint: str,
        *,
        session=None,
        listener=None,
        peer_address: str = "",
    ) -> None:
        self.reactor = reactor
        self.sock = sock
        self.fd = sock.fileno()
        self.owner = owner
        self.endpoint = endpoint
        self.session = session
        self.listener = listener
        self.peer_address = peer_address
        self.peer: Peer | None = None
        self.closed = False
        self._wbuf: memoryview | None = None
        self._writing = False
        self._reading = True
        self._linger_deadline: float | None = None
        self._terminating = False
        self._timer = None
        self._lock = threading.Lock()
        self._last_flush = 0.0
        self._answer = False  # delivered a read since the last write: a send now answers it
        self.hosted = False  # a caller's thread is reading this connection
        self._io_reading = True  # the I/O thread's read interest is registered
        self._need_rehost = False
        self._host_lock = threading.Lock()  # hosted -> False vs _need_rehost (io/host.py)
        self._host_timer = None
        self._last_hosted = 0.0
        self._pause_timer = None  # see _pause_check
        self.conn = self._make_connection(reactor.time())
        owner._io_add(self)
        reactor.add_reader(self.fd, self._on_readable)
        self._send_raw(self.conn.data_to_send())
        self._schedule_timer()

    def _make_connection(self, now: float) -> ZmtpConnection:
        """The protocol state machine this engine drives, from the socket's options (the
        ws transport wraps it in its own: transports/ws.py)."""
        opts = self.owner.options
        return ZmtpConnection(
            self.owner.type_name,
            self.owner.make_mechanism(),
            identity=opts.get(C.ROUTING_ID) or b"",
            maxmsgsize=opts.get(C.MAXMSGSIZE),
            heartbeat_ivl=opts.get(C.HEARTBEAT_IVL) / 1000.0,
            heartbeat_ttl=opts.get(C.HEARTBEAT_TTL) / 1000.0,
            heartbeat_timeout=(
                opts.get(C.HEARTBEAT_TIMEOUT) / 1000.0
                if opts.get(C.HEARTBEAT_TIMEOUT) >= 0
                else None
            ),
            handshake_ivl=opts.get(C.HANDSHAKE_IVL) / 1000.0,
            now=now,
        )

    @property
    def shares_fanout(self) -> bool:
        """Messages go out as plain ZMTP frames, so a publisher's shared log, encoded once
        for all such peers, can be sent as it is (plumbing/fanout.py)."""
        return not self.conn.mechanism.encrypts

    # -- timers --------------------------------------------------------------------------
    def _schedule_timer(self) -> None:
        when = self.conn.next_timer()
        if self._timer is not None:
            if when is not None and self._timer.when == when:
                return
            self._timer.cancel()
            self._timer = None
        if when is not None and not self.closed:
            self._timer = self.reactor.call_at(when, self._on_timer)

    @_locked
    def _on_timer(self) -> None:
        self._timer = None
        if self.closed:
            return
        try:
            self.conn.handle_timer(self.reactor.time())
        except ZmtpError as e:
            self._fail(e)
            return
        if self.conn.has_output:
            self._send_raw(self.conn.data_to_send())
        self._schedule_timer()

    # -- reading -------------------------------------------------------------------------
    def _on_readable(self) -> None:
        # Not under the lock: standing aside must never make a hosting caller wait.
        if self.hosted:
            # A caller blocked in recv reads this connection itself (see io/host.py):
            # stand aside, and look again a little later rather than at every unhost.
            self._io_reading = False
            self.reactor.remove_reader(self.fd)
            if self._host_timer is None:
                self._host_timer = self.reactor.call_later(HOST_RECHECK, self._host_check)
            return
        with self._lock:
            peer = self.peer
            if peer is not None and self._over_mark(peer.inp):
                return  # a hosted read left the pipe at its mark (see _deliver): pause
            self._read_once()

    def _read_once(self) -> None:
        """One read and decode pass; on the I/O thread or a hosting caller's (lock held)."""
        sink = self.conn.sink  # the rest of a big frame: read straight into its buffer
        try:
            data = self.sock.recv(RECV_SIZE) if sink is None else self.sock.recv_into(sink)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            if not self.conn.ready:  # e.g. ECONNRESET during the handshake
                self.owner._event(C.EVENT_HANDSHAKE_FAILED_NO_DETAIL, e.errno or 0, self.endpoint)
            # Nothing more to decode: closing the protocol state at once also tells a
            # hosting caller to stop polling this descriptor (its EOF stays readable) while
            # the I/O thread gets round to closing the engine.
            self.conn.close()
            self._in_reactor(self.close, f"read error: {e}", C.EVENT_DISCONNECTED)
            return
        if not data:
            if not self.conn.ready:  # libzmq: a handshake cut short is a failure too
                self.owner._event(C.EVENT_HANDSHAKE_FAILED_NO_DETAIL, EPIPE, self.endpoint)
            self.conn.close()  # (as above)
            self._in_reactor(self.close, "peer closed the connection", C.EVENT_DISCONNECTED)
            return
        try:
            if sink is None:
                events = self.conn.receive_data(data, time.monotonic())
            else:
                events = self.conn.sink_filled(data, time.monotonic())
        except ZmtpError as e:
            if self.reactor.in_thread():
                self._fail(e)  # the lock is held here: _fail_cb would deadlock on it
            else:
                self.reactor.call_soon_threadsafe(functools.partial(self._fail_cb, e))
            return
        if events:
            self._answer = True
            peer = self.peer
            if peer is not None:  # in traffic every event is a pipe item
                self._deliver(peer, events)
            else:
                self._handle_events(events)
        if self.closed:
            return
        if self.conn.has_output:
            self._flush()
        when = self.conn.next_timer()
        timer = self._timer
        if (when is None) != (timer is None) or (timer is not None and timer.when != when):
            self._in_reactor(self._schedule_timer)

    # -- hosting: a caller's thread reads while it waits (io/host.py) -------------------
    def hosted_read(self) -> bool:
        """Read what arrived, from the caller's thread; False if the I/O thread kept the
        lock (its locked sections are short: a flush, a read that will deliver)."""
        lock = self._lock
        if lock.locked():
            return False
        # ``with``, never ``acquire()`` then ``try``: CPython runs signal handlers right after
        # a call returns, and a KeyboardInterrupt there would keep the lock for ever (the
        # I/O thread then hangs on this engine).  ``with`` releases it whatever happens.
        with lock:
            try:
                if self.closed:
                    return True
                peer = self.peer
                if not self._reading:
                    # Paused at the high-water mark, but the caller waiting here is the
                    # consumer and has drained the pipe: resume on this thread.
                    if peer is None or peer.inp.full():
                        return True
                    self._reading = True
                elif peer is not None:
                    inp = peer.inp
                    if inp.hwm and len(inp.q) >= inp.hwm:
                        return True  # at the mark after a hosted read (see _deliver)
                self._read_once()
            except BaseException:
                # A KeyboardInterrupt (Ctrl-C lands in the caller's thread, here) may have
                # cut the decoder short between bytes read and messages delivered: its state
                # is unknown, so drop the connection rather than hand out corrupt messages.
                if not self.closed:
                    self.conn.close()  # decode nothing more from it, on any thread
                    self._in_reactor(self.close, "read interrupted", C.EVENT_DISCONNECTED)
                raise
        return True

    def unhost(self) -> None:
        self._last_hosted = time.monotonic()
        with self._host_lock:  # see io/host.py: the hand-back must not be lost
            self.hosted = False
            rehost = self._need_rehost
        if rehost:
            self.reactor.call_soon_threadsafe(self._sync_reader)

    def _host_check(self) -> None:
        """I/O thread, a moment after it stood aside: take reading back if nobody hosts."""
        self._host_timer = None
        if self.closed:
            return
        with self._host_lock:  # see io/host.py
            if self.hosted:
                self._need_rehost = True  # a long wait: unhost() will hand reading back
                return
        if time.monotonic() - self._last_hosted < HOST_RECHECK:
            # The caller is between two receives of a stream: keep standing aside.
            self._host_timer = self.reactor.call_later(HOST_RECHECK, self._host_check)
            return
        self._sync_reader()

    def _sync_reader(self) -> None:
        """I/O thread: register read interest exactly when the I/O thread should read."""
        self._need_rehost = False
        want = self._reading and not self.hosted and not self.closed
        if want and not self._io_reading:
            self._io_reading = True
            self.reactor.add_reader(self.fd, self._on_readable)
        elif not want and self._io_reading and not self.hosted:
            self._io_reading = False
            self.reactor.remove_reader(self.fd)

    @_locked
    def _fail_cb(self, e: ZmtpError) -> None:
        if not self.closed:
            self._fail(e)

    def _handle_events(self, events: list) -> None:
        peer = self.peer
        batch = []
        for ev in events:
            cls = ev.__class__
            if cls is bytes or cls is list or cls is Subscription or cls is GroupMembership:
                batch.append(ev)
            elif cls is HandshakeSucceeded:
                peer = self._handshake_done(ev)
                if peer is None:
                    return
            elif cls is ZapRequested:
                self.owner._zap_request(self, ev)
        if batch and peer is not None:
            self._deliver(peer, batch)

    def _deliver(self, peer: Peer, items: list) -> None:
        """Queue decoded pipe items for the socket; pause reading at the high-water mark.

        A hosted read (the consumer's own thread, see io/host.py) does not pause: that
        would take two wake-ups of the I/O thread per batch (pause, then resume when the
        consumer drains the pipe).  The reading thread checks the mark before it reads
        instead: :meth:`hosted_read` skips the read, and the I/O thread, which may take
        reading back with the pipe still at its mark, pauses then (:meth:`_on_readable`).
        """
        inp = peer.inp
        inp.write_many(items)
        if inp.hwm and len(inp.q) >= inp.hwm:
            if self.hosted and not self.reactor.in_thread():
                return
            self._over_mark(inp)

    def _over_mark(self, inp: Pipe) -> bool:
        """I/O thread, or a read that must pause: True (and pause reading until the
        consumer drains the pipe) if ``inp`` is at its high-water mark."""
        if inp.full():  # sets writer_blocked, ordered as plumbing/pipe.py says
            self._pause_reading()
            return True
        return False

    def _pause_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._in_reactor(self._sync_reader)
            self._in_reactor(self._watch_paused)

    def _watch_paused(self) -> None:
        if self._pause_timer is None and not self.closed:
            self._pause_timer = self.reactor.call_later(PAUSE_CHECK, self._pause_check)

    def _pause_check(self) -> None:
        """I/O thread, while paused at the high-water mark: every PAUSE_CHECK, resume if the
        consumer drained the pipe but its wake-up never came (a KeyboardInterrupt in the
        consumer's thread can land between clearing ``writer_blocked`` and the call)."""
        self._pause_timer = None
        if self.closed or self._reading:
            return
        peer = self.peer
        if peer is None or not peer.inp.full():  # full() re-arms writer_blocked if still full
            self._resume_reading()
        else:
            self._pause_timer = self.reactor.call_later(PAUSE_CHECK, self._pause_check)

    def _on_inbound_writable(self, pipe: Pipe) -> None:
        # Called from the socket's thread when it drained the inbound pipe.
        self.reactor.call_soon_threadsafe(self._resume_reading)

    def _resume_reading(self) -> None:
        if not self.closed and not self._reading:
            self._reading = True
            self._sync_reader()
            if self._io_reading:
                self._on_readable()

    @_locked
    def zap_reply(self, status_code: bytes, status_text: bytes, user_id: bytes, meta) -> None:
        """The ZAP handler answered (called on the I/O thread)."""
        if self.closed:
            return
        try:
            events = self.conn.zap_reply(status_code, status_text, user_id, meta)
        except ZmtpError as e:
            self._fail(e)
            return
        self._handle_events(events)
        if not self.closed and self.conn.has_output:
            self._flush()

    @_locked
    def zap_failed(self, error: ZmtpError) -> None:
        """No usable ZAP answer (no handler, malformed reply): fail the handshake."""
        if not self.closed:
            self._fail(error)

    def _handshake_done(self, ev: HandshakeSucceeded) -> Peer | None:
        owner = self.owner
        owner._event(C.EVENT_HANDSHAKE_SUCCEEDED, 0, self.endpoint)
        if self.session is not None and self.session.peer is not None:
            peer = self.session.peer
            fresh = False
        else:
            peer = owner._new_peer(self.endpoint)
            fresh = True
        # Only a re-connection is a hiccup (XSUB then re-sends its subscriptions); on the
        # first one they are still queued in the pipe and would go out twice.
        reconnected = self.session is not None and self.session._connected_once
        if self.session is not None:
            self.session.engine_ready(self, peer)
        ids = get_all(ev.peer_properties, "Identity")  # libzmq routes by the last one sent
        rid = ids[-1] if ids else b""
        if fresh or not peer.routing_id:
            if self.session is not None and self.session.connect_rid:
                peer.routing_id = self.session.connect_rid
            elif rid:
                peer.routing_id = rid
        peer.properties = peer_properties(
            ev.peer_properties, self.conn.mechanism.zap_properties, self.peer_address
        )
        peer.user_id = ev.user_id
        peer.session = self.session if self.session is not None else self
        self.peer = peer
        peer.out.on_readable = self._on_outbound_readable
        peer.inp.on_writable = self._on_inbound_writable
        if fresh:
            owner._post(owner._attach, peer)
        elif reconnected:
            owner._post(owner._hiccup, peer)
        self._flush()
        return peer

    # -- writing -------------------------------------------------------------------------
    def _on_outbound_readable(self, pipe: Pipe) -> None:
        """The writer (usually the socket's thread) queued into an empty pipe."""
        reactor = self.reactor
        if reactor.in_thread():
            if self._answer and not self._lock.locked():
                # A reply from the reactor's own thread (an asyncio task on the loop that
                # drives the connections): write it now, not one loop iteration later.
                with self._lock:
                    if self._wbuf is None and not self.closed:
                        self._flush()
                return
            reactor.call_soon(self._flush_cb)
            return
        now = time.monotonic()
        owner = self.owner
        if (
            (self._answer or (
                now - self._last_flush > DIRECT_IDLE and now - owner._last_direct > DIRECT_IDLE
            ))
            and not self._lock.locked()
        ):
            # An idle connection of an idle socket, or the first send since a read (a
            # reply: in a fast request-reply loop the connection is never "idle"): write
            # it now, from this thread.  (Per socket too, so a fan-out makes one such
            # syscall, not one per peer; and at most one per read.)
            # ``with``, not ``acquire(False)`` then ``try``: see hosted_read (Ctrl-C).
            owner._last_direct = now
            with self._lock:
                if self._wbuf is None and not self.closed:
                    self._flush()
            return
        reactor.call_soon_threadsafe(self._flush_cb)

    @_locked
    def _flush_cb(self) -> None:
        self._flush()

    def _send_raw(self, data: bytes) -> None:
        if not data:
            return
        if self._wbuf is not None:
            self._wbuf = memoryview(bytes(self._wbuf) + data)
            return
        self._write(memoryview(data))

    def _write(self, view: memoryview) -> bool:
        """Send what the kernel takes; keep the rest. True if everything went.

        May run on a caller's thread (holding the lock): then whatever needs the reactor
        (waiting for writability, closing) is handed to the I/O thread.
        """
        self._last_flush = time.monotonic()
        self._answer = False
        try:
            sent = self.sock.send(view)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as e:
            self._wbuf = view
            self._in_reactor(self._closed_by_error, f"write error: {e}")
            return False
        if sent == len(view):
            self._wbuf = None
            if self._writing:
                self._writing = False
                self.reactor.remove_writer(self.fd)
            return True
        self._wbuf = view[sent:]
        if not self._writing:
            self._in_reactor(self._want_writable)
        return False

    def _write_parts(self, parts: list) -> bool:
        """Like :meth:`_write` for a list of buffers, sent with one ``sendmsg``."""
        try:
            sent = self.sock.sendmsg(parts)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return self._write(memoryview(b"".join(parts)))  # let _write report it
        self._last_flush = time.monotonic()
        total = 0
        for i, part in enumerate(parts):
            total += len(part)
            if total > sent:
                # Only the unsent tail is copied, once.
                rest = [memoryview(part)[len(part) - (total - sent):], *parts[i + 1 :]]
                return self._write(memoryview(b"".join(rest)))
        return True

    def _in_reactor(self, fn, *args) -> None:
        if self.reactor.in_thread():
            fn(*args)
        else:
            self.reactor.call_soon_threadsafe(functools.partial(fn, *args))

    def _want_writable(self) -> None:
        if not self._writing and not self.closed and self._wbuf is not None:
            self._writing = True
            self.reactor.add_writer(self.fd, self._on_writable)

    def _closed_by_error(self, reason: str) -> None:
        self.close(reason, C.EVENT_DISCONNECTED)

    @_locked
    def _on_writable(self) -> None:
        if self._wbuf is not None and not self._write(self._wbuf):
            return
        self._flush()

    def _flush(self) -> None:
        """Encode and send everything queued, in large batches."""
        if self.closed or self._wbuf is not None:
            return
        conn = self.conn
        peer = self.peer
        if peer is None or not conn.ready:
            if conn.has_output:
                self._write(memoryview(conn.data_to_send()))
            return
        pipe = peer.out
        q = pipe.q
        while True:
            out: list = []
            reader = peer.follow
            use_pipe = True
            if reader is not None:
                # A publisher's shared log, already in wire form (plumbing/fanout.py);
                # commands (heartbeats) go first.
                conn.take_commands(out)
                chunk = reader.take()
                if chunk is not None:
                    use_pipe = False
                    if out:
                        out.extend(chunk)
                    else:
                        out = chunk
                elif out:
                    use_pipe = False  # only commands this time
                elif reader.stop is not None and reader.pos >= reader.stop:
                    peer.follow = None  # left the log: the pipe has what came after
                    reader.done = True
                    continue
                elif not q:
                    if reader.arm() or pipe.rearm():
                        continue
                    break
                # (Pipe items while following are not expected: they go out anyway.)
            if use_pipe:
                marker = conn.encode_queue(q, out, SEND_BATCH)
                if pipe.writer_blocked:
                    pipe.released()
                if marker is not None:
                    peer.follow = marker.reader
            if out:
                if 1 < len(out) <= 64 and len(out[-1]) >= SCATTER_MIN:
                    # Big frames go out by scatter-gather: no copy into a joined buffer.
                    if not self._write_parts(out):
                        return
                else:
                    data = out[0] if len(out) == 1 else b"".join(out)
                    if not self._write(memoryview(data)):
                        return  # the rest waits for writability (or the engine closed)
            if q or peer.follow is not None or pipe.rearm():
                continue
            break
        if self._terminating:
            self.close("linger done", 0)

    # -- closing -------------------------------------------------------------------------
    def _fail(self, e: ZmtpError) -> None:
        """A protocol, auth or timeout failure: tell the peer if we can, report, close."""
        owner = self.owner
        if e.kind == "auth":
            if e.value:  # a ZAP status; libzmq reports no event for other ERROR reasons
                owner._event(C.EVENT_HANDSHAKE_FAILED_AUTH, e.value, self.endpoint)
        elif e.kind == "protocol" and not self.conn.ready:
            # libzmq reports a ZMQ_PROTOCOL_ERROR_* code; UNSPECIFIED when we have none
            code = e.value or C.PROTOCOL_ERROR_ZMTP_UNSPECIFIED
            owner._event(C.EVENT_HANDSHAKE_FAILED_PROTOCOL, code, self.endpoint)
        elif e.kind in ("timeout", "no-detail") and not self.conn.ready:
            owner._event(C.EVENT_HANDSHAKE_FAILED_NO_DETAIL, e.value, self.endpoint)
        log.debug("purezmq: closing %s: %s", self.endpoint, e.reason)
        if e.events and self.peer is not None:
            self._handle_events(e.events)  # messages that arrived whole before the failure
        if self.conn.has_output and self._wbuf is None:
            try:
                self.sock.send(self.conn.data_to_send())
            except OSError:
                pass
        self.close(e.reason, C.EVENT_DISCONNECTED)

    @_locked
    def terminate(self, deadline: float | None) -> None:
        """The socket is closing: flush what is queued until ``deadline``, then close."""
        if self.closed:
            return
        now = self.reactor.time()
        if deadline is not None and deadline <= now:
            self.close("socket closed", 0)
            return
        self._terminating = True
        peer = self.peer
        if peer is None or (
            not peer.out.q
            and self._wbuf is None
            and (peer.follow is None or not peer.follow.pending())
        ):
            self.close("socket closed", 0)
            return
        if deadline is not None:
            self.reactor.call_at(deadline, lambda: self.close("linger expired", 0))
        self._flush()

    def close(self, reason: str, event: int) -> None:
        if self.closed:
            return
        self.closed = True
        self.conn.close()
        if self._timer is not None:
            self._timer.cancel()
        if self._host_timer is not None:
            self._host_timer.cancel()
        reactor = self.reactor
        reactor.remove_reader(self.fd)
        reactor.remove_writer(self.fd)
        try:
            self.sock.close()
        except OSError:
            pass
        owner = self.owner
        if event:
            owner._event(event, self.fd, self.endpoint)
        peer = self.peer
        if peer is not None:
            peer.out.on_readable = _nothing
            peer.inp.on_writable = _nothing
            if peer.session is self:
                # The socket may keep the peer a while (unread messages, a queued detach):
                # it must not keep this engine, its decoder and its buffers too.
                peer.session = None
                # Nobody writes to this peer's inbound pipe again (a session's peer, which
                # a reconnect's engine writes to, is not ours), so its wake-up, which holds
                # the peer, goes: the peer is then freed by reference counting once read.
                peer.inp.on_readable = _nothing
        if self.session is not None:
            self.session.engine_closed(self)
        elif peer is not None:
            owner._post(owner._detach, peer)
        if self.listener is not None:
            self.listener.engines.discard(self)
        owner._io_done(self)
