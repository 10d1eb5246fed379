"""``proxy``, ``proxy_steerable`` and ``device``: libzmq's built-in proxy, in the caller's thread.

Theory of operation.  The proxy owns its sockets for as long as it runs.  It registers one
:class:`~purezmq.plumbing.waiter.Waiter` on all of them (``add_waiter``) and loops:

* for each direction (frontend -> backend, and back) it moves a burst of up to
  :data:`BURST` whole messages with the non-blocking core (``try_recv`` / ``try_send``);
* a message the destination cannot take (high-water mark, no peer yet) is kept as the
  direction's *pending* message and that direction stops reading its source until the
  destination wakes the waiter: so at most one message per direction sits in the proxy,
  and the back-pressure of the slow side reaches the fast side's peers, as in libzmq;
* control commands (``PAUSE``, ``RESUME``, ``TERMINATE``, ``STATISTICS``) are handled
  between bursts, exactly as libzmq 4.3.5 does: a ``REP`` control socket gets an empty
  reply to every command but ``STATISTICS``, which replies with eight ``uint64`` frames
  (frontend frames in, bytes in, frames out, bytes out; the same for the backend);
  statistics count frames, not messages, as libzmq's do;
* when nothing moved it sleeps on the waiter: no busy loop, no timer.

The waiter is cleared *before* each pass, so a wake-up that arrives while a pass runs makes
the next sleep return at once and nothing is missed.  A terminated context ends the proxy
with :class:`~purezmq.error.ContextTerminated` (``ZMQError(ETERM)``), as pyzmq's does.
"""

from __future__ import annotations

import struct

from purezmq import constants as C
from purezmq.error import ContextTerminated, ZMQError
from purezmq.patterns.strategies import move_run
from purezmq.plumbing.waiter import Waiter

__all__ = ["BURST", "device", "monitored_queue", "proxy", "proxy_steerable"]

#: Messages moved in one direction before the other direction (and control) gets a turn.
BURST = 1000

_U64 = struct.Struct("=Q")  # host order, as libzmq memcpy()s a uint64_t

_ACTIVE, _PAUSED, _TERMINATED = 0, 1, 2

_SEND_ONLY = frozenset({int(C.PUB), int(C.PUSH)})
_RECV_ONLY = frozenset({int(C.SUB), int(C.PULL)})

# Indices into the statistics list: the order of libzmq's STATISTICS reply.
_FE_RECV_N, _FE_RECV_B, _FE_SEND_N, _FE_SEND_B = 0, 1, 2, 3
_BE_RECV_N, _BE_RECV_B, _BE_SEND_N, _BE_SEND_B = 4, 5, 6, 7


class _Direction:
    """One way through the proxy: source, destination, and the message waiting to go."""

    __slots__ = (
        "src", "dst", "capture", "prefix", "swap_ids", "pending", "rx", "tx", "disabled",
    )

    def __init__(self, src, dst, capture, rx: int, tx: int, prefix=None, swap_ids=False):
        self.src = src
        self.dst = dst
        self.capture = capture
        self.prefix = prefix  # monitored_queue: capture gets [prefix, *msg]
        self.swap_ids = swap_ids
        self.pending = None  # a message (list, or bare bytes) the destination refused
        self.rx = rx
        self.tx = tx
        # libzmq's proxy reads a side only when the other reports POLLOUT: a way that starts
        # at a send-only socket or ends at a receive-only one never carries anything.
        self.disabled = (
            src.getsockopt(C.TYPE) in _SEND_ONLY or dst.getsockopt(C.TYPE) in _RECV_ONLY
        )

    def pump(self, stats: list) -> bool:
        """Move up to BURST messages; True if anything moved."""
        src_recv = self.src.try_recv_item  # a one-frame message comes as its bare bytes
        dst_send = self.dst.try_send
        bare_ok = self.dst.pattern.bare_send
        capture = self.capture
        swap = self.swap_ids
        msg = self.pending
        self.pending = None
        rx_n = rx_b = tx_n = tx_b = 0
        if msg is not None:  # received (and counted) earlier; its size counts when it goes
            if msg.__class__ is bytes:
                nframes, nbytes = 1, len(msg)
            else:
                nframes, nbytes = len(msg), sum(map(len, msg))
        moved = 0
        if msg is None and capture is None and not swap:
            moved, rx_b = self._move_run()
            rx_n = tx_n = moved
            tx_b = rx_b
        while moved < BURST:
            if msg is None:
                try:
                    msg = src_recv()
                except ZMQError as e:
                    # A socket that cannot receive (PUSH, PUB) or not now (REQ): libzmq's
                    # proxy polls it for POLLIN, which never comes.
                    if e.errno == C.ENOTSUP:
                        self.disabled = True
                    elif e.errno != C.EFSM:
                        raise
                    break
                if msg is None:
                    break
                if msg.__class__ is bytes:
                    nframes = 1
                    nbytes = len(msg)
                    if not bare_ok:
                        msg = [msg]
                else:
                    nframes = len(msg)
                    nbytes = sum(map(len, msg))
                rx_n += nframes
                rx_b += nbytes
                if swap and nframes >= 2:
                    msg[0], msg[1] = msg[1], msg[0]
                if capture is not None:
                    frames = (msg,) if msg.__class__ is bytes else msg
                    copy = [*frames] if self.prefix is None else [self.prefix, *frames]
                    _send_blocking(capture, copy)
            try:
                sent = dst_send(msg)
            except ZMQError as e:
                if e.errno != C.EFSM:
                    raise
                sent = False  # a REQ waiting for its reply: no POLLOUT in libzmq either
            if not sent:
                self.pending = msg  # the destination is full: stop reading the source
                break
            tx_n += nframes
            tx_b += nbytes
            msg = None
            moved += 1
        rx, tx = self.rx, self.tx
        stats[rx] += rx_n
        stats[rx + 1] += rx_b
        stats[tx] += tx_n
        stats[tx + 1] += tx_b
        return moved > 0


    def _move_run(self) -> tuple[int, int]:
        """A batch of one-frame messages straight from pipe to pipe, when the source only
        fair-queues and the destination load-balances over a single peer (a STREAMER
        between a PULL and a PUSH, say): see strategies.move_run."""
        src, dst = self.src, self.dst
        if src._mailbox:
            src._process()
        if dst._mailbox:
            dst._process()
        lb = getattr(dst.pattern, "lb", None)
        if lb is None or not src.pattern.fair_queue or dst.pattern.send != lb.send:
            return 0, 0
        return move_run(src._ready, lb, BURST)


def _send_blocking(sock, msg: list) -> None:
    """Send as libzmq's proxy sends to capture and control: blocking if it must."""
    if not sock.try_send(msg):
        sock.send_msg(msg, 0)


def _check_alive(socks) -> None:
    for s in socks:
        if s.closed:
            raise ZMQError(C.ENOTSOCK)
        if s.ctx._terminated:
            raise ContextTerminated()


def _handle_control(control, msg: list, stats: list, state: int) -> int:
    """One control message (libzmq reads one frame per command: so do we, frame by frame)."""
    is_rep = control.getsockopt(C.TYPE) == C.REP
    for frame in msg:
        command = bytes(frame)
        if command == b"STATISTICS":
            _send_blocking(control, [_U64.pack(v) for v in stats])
            continue
        if command == b"PAUSE":
            state = _PAUSED
        elif command == b"RESUME":
            state = _ACTIVE
        elif command == b"TERMINATE":
            state = _TERMINATED
        if is_rep:
            _send_blocking(control, [b""])  # "satisfy REP duty and reply no matter what"
        if is_rep or state == _TERMINATED:
            break  # a REP socket can reply only once per request
    return state


def _run(directions: list, socks: list, control, stats: list) -> int:
    waiter = Waiter()
    wake = waiter.wake
    clear = waiter.clear
    for s in socks:
        s.add_waiter(wake)
    state = _ACTIVE
    try:
        while True:
            clear()
            moved = False
            if control is not None:
                while True:
                    msg = control.try_recv()
                    if msg is None:
                        break
                    moved = True
                    state = _handle_control(control, msg, stats, state)
                    if state == _TERMINATED:
                        return 0
            if state == _ACTIVE:
                for d in directions:
                    if not d.disabled and d.pump(stats):
                        moved = True
            _check_alive(socks)
            if not moved:
                waiter.wait(None)
    finally:
        for s in socks:
            s.remove_waiter(wake)


def _unique(*socks) -> list:
    out: list = []
    for s in socks:
        if s is not None and not any(s is o for o in out):
            out.append(s)
    return out


def proxy_steerable(frontend, backend, capture=None, control=None) -> int:
    """libzmq's ``zmq_proxy_steerable``: run until TERMINATE (returns 0) or ETERM (raises)."""
    socks = _unique(frontend, backend, control)
    _check_alive(_unique(frontend, backend, capture, control))
    stats = [0] * 8
    directions = [_Direction(frontend, backend, capture, _FE_RECV_N, _BE_SEND_N)]
    if backend is not frontend:
        directions.append(_Direction(backend, frontend, capture, _BE_RECV_N, _FE_SEND_N))
    return _run(directions, socks, control, stats)


def proxy(frontend, backend, capture=None) -> int:
    """libzmq's ``zmq_proxy``: runs until the context is terminated (then raises ETERM)."""
    return proxy_steerable(frontend, backend, capture, None)


def device(device_type: int, frontend, backend) -> int:
    """The deprecated ``zmq_device``: QUEUE, FORWARDER and STREAMER are all ``proxy``
    (the type is ignored, as libzmq and pyzmq ignore it)."""
    return proxy(frontend, backend)


def monitored_queue(in_socket, out_socket, mon_socket, in_prefix=b"in", out_prefix=b"out"):
    """pyzmq's ``monitored_queue``: a queue that copies every message, prefixed, to
    ``mon_socket``; with ROUTER on both sides the two routing ids are swapped so replies
    find their way back.  Runs until the context is terminated (then raises ETERM)."""
    in_prefix = bytes(in_prefix) if not isinstance(in_prefix, str) else in_prefix.encode()
    out_prefix = bytes(out_prefix) if not isinstance(out_prefix, str) else out_prefix.encode()
    swap = in_socket.getsockopt(C.TYPE) == C.ROUTER and out_socket.getsockopt(C.TYPE) == C.ROUTER
    stats = [0] * 8
    directions = [
        _Direction(in_socket, out_socket, mon_socket, 0, 6, prefix=in_prefix, swap_ids=swap),
        _Direction(out_socket, in_socket, mon_socket, 4, 2, prefix=out_prefix, swap_ids=swap),
    ]
    socks = _unique(in_socket, out_socket)
    _check_alive(_unique(in_socket, out_socket, mon_socket))
    return _run(directions, socks, None, stats)
