"""inproc://: two sockets of one context joined by a pipe pair, with no engine between.

A message written by one socket is read by the other straight from the shared deque: no
I/O thread, no encoding, no copy.  ``connect`` before ``bind`` is allowed: the connecting
side gets its peer at once (messages queue, up to its SNDHWM) and the binding side
attaches the other end when it binds (a ROUTER connecter attaches its peer then, when the
binder's routing id is known).
"""

from __future__ import annotations

from purezmq import constants as C
from purezmq.error import ZMQError
from purezmq.plumbing.pipe import Peer, Pipe, is_message


def _hwm(snd: int, rcv: int) -> int:
    return 0 if snd <= 0 or rcv <= 0 else snd + rcv


class InprocLink:
    """Both ends of one inproc connection; ``peer.session`` of each side points here."""

    def __init__(self, connecter, name: str, rid: bytes) -> None:
        self.connecter = connecter
        self.binder = None
        self.name = name
        copts = connecter.options
        # Until the bind, the connecter's own HWMs (libzmq); the sums once both are known.
        self.c2b = Pipe(max(copts.get(C.SNDHWM), 0))
        self.b2c = Pipe(max(copts.get(C.RCVHWM), 0))
        self.cpeer = connecter._new_peer(f"inproc://{name}", inp=self.b2c, out=self.c2b)
        self.cpeer.session = self
        self.cpeer.attached_early = True
        self.cpeer.routing_id = rid  # CONNECT_ROUTING_ID: how the connecter names the binder
        self.bpeer: Peer | None = None
        self.rid = rid
        # A ROUTER connecter learns the binder's routing id at the bind: attach it then.
        self.attach_late = not connecter.pattern.attach_early

    def join(self, binder) -> None:
        """The bound socket exists: make its end of the pipes and attach it."""
        self.binder = binder
        bopts, copts = binder.options, self.connecter.options
        self.c2b.set_hwm(_hwm(copts.get(C.SNDHWM), bopts.get(C.RCVHWM)))
        self.b2c.set_hwm(_hwm(bopts.get(C.SNDHWM), copts.get(C.RCVHWM)))
        bpeer = binder._new_peer(f"inproc://{self.name}", inp=self.c2b, out=self.b2c)
        # The binder's _new_peer sets the callbacks of the binder's side only: c2b's reader
        # and b2c's writer.  The connecter's side was set when the link was made.
        bpeer.session = self
        bpeer.routing_id = copts.get(C.ROUTING_ID)
        self.cpeer.routing_id = self.cpeer.routing_id or bopts.get(C.ROUTING_ID)
        self.bpeer = bpeer
        binder._post(binder._attach, bpeer)
        if self.attach_late:
            self.attach_late = False
            self.connecter._post(self.connecter._attach, self.cpeer)

    def has_queued(self) -> bool:
        """True if the connecter wrote messages the binder has not read."""
        return any(map(is_message, self.c2b.q))

    def peer_closed(self, peer: Peer) -> None:
        """One side dropped or closed: the other keeps what was sent, then detaches."""
        other_sock, other = (
            (self.binder, self.bpeer) if peer is self.cpeer else (self.connecter, self.cpeer)
        )
        if other_sock is not None and other is not None:
            other_sock._post(other_sock._detach, other)


def bind(sock, name: str) -> None:
    ctx = sock.ctx
    with ctx._lock:
        if name in ctx._inproc:
            raise ZMQError(C.EADDRINUSE)
        ctx._inproc[name] = sock
        pending = ctx._inproc_pending.pop(name, [])
    for link in pending:
        if not link.connecter.closed:
            link.join(sock)
        elif link.has_queued():  # closed before this bind: deliver, then drop the peer
            link.join(sock)
            link.peer_closed(link.cpeer)


def unbind(sock, name: str) -> None:
    ctx = sock.ctx
    with ctx._lock:
        if ctx._inproc.get(name) is sock:
            del ctx._inproc[name]


def connect(sock, name: str, rid: bytes) -> Peer:
    ctx = sock.ctx
    link = InprocLink(sock, name, rid)
    with ctx._lock:
        binder = ctx._inproc.get(name)
        if binder is None:
            ctx._inproc_pending.setdefault(name, []).append(link)
    if binder is not None:
        link.attach_late = False
        link.join(binder)  # first: the routing ids are known before the attach
        sock._attach(link.cpeer)
    elif not link.attach_late:
        sock._attach(link.cpeer)
    return link.cpeer


def socket_closed(sock) -> None:
    """Release inproc names and tell inproc peers this socket is gone.

    A connect still waiting for its bind keeps the messages queued on it: as in libzmq
    (whatever the LINGER), a later bind of the name receives them.
    """
    ctx = sock.ctx
    with ctx._lock:
        for name in [n for n, s in ctx._inproc.items() if s is sock]:
            del ctx._inproc[name]
        for links in ctx._inproc_pending.values():
            links[:] = [
                link
                for link in links
                if link.connecter is not sock or link.has_queued()
            ]
    for peer in list(sock.peers):
        if isinstance(peer.session, InprocLink):
            peer.session.peer_closed(peer)
