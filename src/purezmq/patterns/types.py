"""Each socket type as a small composition of the strategies (RFC 28-31).

A pattern object lives in the socket's thread.  ``send(msg)`` returns False when it would
block (the socket then waits or raises ``Again``); ``recv()`` returns a message or None.
A message is a list of frames or, for one frame, the frame's ``bytes`` alone (as pipes
carry it): ``recv()`` may return either, and ``send()`` takes a bare frame where the
class says ``bare_send``.
Errors of use (``EFSM``, ``ENOTSUP``, ``EHOSTUNREACH``) are raised as ``ZMQError``.
Inbound items come from the socket's ready deque through :func:`fair_recv`.
"""

from __future__ import annotations

import functools
import os
import struct
from collections import deque

from purezmq import constants as C
from purezmq.error import ZMQError
from purezmq.patterns.strategies import (
    Distributor,
    LoadBalancer,
    fair_peek,
    fair_recv,
    fair_recv_item,
)
from purezmq.patterns.subscriptions import Subscriptions
from purezmq.plumbing.fanout import FanoutLog, wire_form
from purezmq.plumbing.pipe import Peer, as_frames, is_message
from purezmq.zmtp.events import Subscription
from purezmq.zmtp.frames import SHORT_HEADERS

_U32 = struct.Struct(">I")


class Pattern:
    """Defaults: a type that neither sends nor receives."""

    name = ""
    attach_early = True  # connect-side peers exist before the handshake (messages queue)
    max_peers = 0  # 0: any number
    # The draft types (patterns/draft.py) send and receive one frame at a time (SNDMORE is
    # EINVAL) and tell the routing id / group of the message recv() returned last.
    single_part = False
    bare_send = False  # send() also takes a one-frame message as its bare bytes
    # recv() is exactly ``fair_recv_item(self.ready)``: the sugar's recv inlines it.
    fair_queue = False
    rx_routing_id: int | None = None
    rx_group: str | None = None

    def __init__(self, sock) -> None:
        self.sock = sock
        self.ready: deque = sock._ready

    def attach(self, peer: Peer) -> bool:
        """Take a new peer; False refuses it (the connection is dropped)."""
        return True

    def detach(self, peer: Peer) -> None:
        pass

    def hiccup(self, peer: Peer) -> None:
        """The peer's connection was re-established (a session reconnected)."""

    def send(self, msg: list) -> bool:
        raise ZMQError(C.ENOTSUP)

    def recv(self) -> list | None:
        raise ZMQError(C.ENOTSUP)

    def can_send(self) -> bool:
        return False

    def can_recv(self) -> bool:
        return False

    def setsockopt(self, option: int, value) -> bool:
        """Pattern-specific options; True if handled."""
        return False

    def refresh(self) -> None:
        """An option changed: patterns that read options per message cache them here."""


class _LbFq(Pattern):
    """Load-balance out, fair-queue in: the shape of DEALER, PUSH, PULL."""

    bare_send = True

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.lb = LoadBalancer()
        # Bound straight to the strategies: one call less per message.
        if type(self).send is _LbFq.send:
            self.send = self.lb.send
        if type(self).recv is _LbFq.recv:
            self.recv = functools.partial(fair_recv_item, self.ready)
            self.fair_queue = True

    def attach(self, peer: Peer) -> bool:
        self.lb.attach(peer)
        if self.sock.options.get(C.PROBE_ROUTER):
            peer.out.write([b""])
        return True

    def detach(self, peer: Peer) -> None:
        self.lb.detach(peer)

    def send(self, msg: list) -> bool:
        return self.lb.send(msg)

    def recv(self) -> list | None:
        return fair_recv_item(self.ready)

    def can_send(self) -> bool:
        return self.lb.can_send()

    def can_recv(self) -> bool:
        return fair_peek(self.ready)


class Dealer(_LbFq):
    name = "DEALER"


class Push(_LbFq):
    name = "PUSH"

    def recv(self) -> list | None:
        raise ZMQError(C.ENOTSUP)

    def can_recv(self) -> bool:
        return False


class Pull(_LbFq):
    name = "PULL"

    def send(self, msg: list) -> bool:
        raise ZMQError(C.ENOTSUP)

    def can_send(self) -> bool:
        return False


class Pair(_LbFq):
    name = "PAIR"
    max_peers = 1

    def attach(self, peer: Peer) -> bool:
        if self.lb.peers:
            return False
        return super().attach(peer)


class Req(Pattern):
    """Strict send/recv alternation over a load-balancer; replies only from the asked peer."""

    name = "REQ"
    bare_send = True

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.lb = LoadBalancer()
        self.expect_reply = False
        self.reply_peer: Peer | None = None
        self.request_id = int.from_bytes(os.urandom(4), "big")
        self.relaxed = False  # REQ_RELAXED, REQ_CORRELATE: cached by refresh()
        self.correlate = False

    def refresh(self) -> None:
        opts = self.sock.options
        self.relaxed = bool(opts.get(C.REQ_RELAXED))
        self.correlate = bool(opts.get(C.REQ_CORRELATE))

    def attach(self, peer: Peer) -> bool:
        self.lb.attach(peer)
        return True

    def detach(self, peer: Peer) -> None:
        self.lb.detach(peer)
        if peer is self.reply_peer and self.relaxed:
            self.reply_peer = None

    def send(self, msg: list) -> bool:
        if self.expect_reply and not self.relaxed:
            raise ZMQError(C.EFSM)
        peer = self.lb.pick()
        if peer is None:
            return False
        # As libzmq: a new request first drops every reply already queued (a stale one,
        # or a peer's second answer), so none of them can pass for this request's answer.
        ready = self.ready
        while ready and fair_recv_item(ready) is not None:
            pass
        body = as_frames(msg)
        if self.correlate:
            self.request_id = (self.request_id + 1) & 0xFFFFFFFF
            peer.out.write([_U32.pack(self.request_id), b"", *body])
        else:
            peer.out.write([b"", *body])
        self.reply_peer = peer
        self.expect_reply = True
        return True

    def recv(self) -> list | None:
        if not self.expect_reply:
            raise ZMQError(C.EFSM)
        if not self.ready:
            return None  # the blocking path asks often: answer it cheaply
        correlate = self.correlate
        while True:
            peer, msg = fair_recv(self.ready)
            if peer is None:
                return None
            if peer is not self.reply_peer or msg.__class__ is not list:
                continue  # a late reply to an earlier request, or from another peer
            if correlate:
                if len(msg) < 2 or msg[0] != _U32.pack(self.request_id) or len(msg[1]):
                    continue
                body = msg[2:]
            else:
                if len(msg) < 2 or len(msg[0]):
                    continue
                body = msg[1:]
            self.expect_reply = False
            self.reply_peer = None
            return body

    def can_send(self) -> bool:
        if self.expect_reply and not self.relaxed:
            return False
        return self.lb.can_send()

    def can_recv(self) -> bool:
        return self.expect_reply and fair_peek(self.ready)


class Rep(Pattern):
    """Receives a request with its envelope, sends the reply back along it."""

    name = "REP"
    bare_send = True

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.peers: list[Peer] = []
        self.reply_to: Peer | None = None
        self.envelope: list = []
        self.replying = False

    def attach(self, peer: Peer) -> bool:
        self.peers.append(peer)
        return True

    def detach(self, peer: Peer) -> None:
        if peer in self.peers:
            self.peers.remove(peer)

    def recv(self) -> list | None:
        if self.replying:
            raise ZMQError(C.EFSM)
        if not self.ready:
            return None
        while True:
            peer, msg = fair_recv(self.ready)
            if peer is None:
                return None
            if msg.__class__ is not list:
                continue
            for i, frame in enumerate(msg):  # noqa: B007 (i is used below)
                if not len(frame):
                    break
            else:
                continue  # no delimiter: not a request, drop it
            self.envelope = msg[: i + 1]
            self.reply_to = peer
            self.replying = True
            return msg[i + 1 :]

    def send(self, msg: list) -> bool:
        if not self.replying:
            raise ZMQError(C.EFSM)
        peer = self.reply_to
        if peer is not None and peer in self.peers and not peer.out.full():
            peer.out.write(self.envelope + as_frames(msg))
        # A reply to a peer that left or is full is dropped, as libzmq does.
        self.replying = False
        self.reply_to = None
        self.envelope = []
        return True

    def can_send(self) -> bool:
        return self.replying

    def can_recv(self) -> bool:
        return not self.replying and fair_peek(self.ready)


class Router(Pattern):
    """Fair-queue in with the peer's routing id prepended; route out by the first frame."""

    name = "ROUTER"
    attach_early = False

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.by_id: dict[bytes, Peer] = {}
        self.next_id = int.from_bytes(os.urandom(4), "big")
        self.mandatory = False  # ROUTER_MANDATORY, cached by refresh(): read per message

    def refresh(self) -> None:
        self.mandatory = bool(self.sock.options.get(C.ROUTER_MANDATORY))

    def _new_id(self) -> bytes:
        self.next_id = (self.next_id + 1) & 0xFFFFFFFF
        return b"\x00" + _U32.pack(self.next_id)

    def attach(self, peer: Peer) -> bool:
        rid = peer.routing_id
        if not rid:
            rid = self._new_id()
            while rid in self.by_id:
                rid = self._new_id()
        elif rid in self.by_id:
            if not self.sock.options.get(C.ROUTER_HANDOVER):
                return False
            old = self.by_id.pop(rid)
            self.sock._drop_peer(old)
        peer.routing_id = rid
        self.by_id[rid] = peer
        if self.sock.options.get(C.PROBE_ROUTER):
            peer.out.write([b""])
        return True

    def detach(self, peer: Peer) -> None:
        if self.by_id.get(peer.routing_id) is peer:
            del self.by_id[peer.routing_id]

    def recv(self) -> list | None:
        while True:
            peer, msg = fair_recv(self.ready)
            if peer is None:
                return None
            cls = msg.__class__
            if cls is bytes:
                return [peer.routing_id, msg]
            if cls is list:
                return [peer.routing_id, *msg]

    def send(self, msg: list) -> bool:
        if len(msg) < 2:
            return True  # nothing to route: dropped, as libzmq drops it
        rid = msg[0]
        peer = self.by_id.get(rid if rid.__class__ is bytes else bytes(rid))
        mandatory = self.mandatory
        if peer is None:
            if mandatory:
                raise ZMQError(C.EHOSTUNREACH)
            return True
        if peer.out.full():
            if mandatory:
                return False
            return True
        body = msg[1]
        # one frame travels bare (as pipes carry it), more as a list
        peer.out.write(body if len(msg) == 2 and body.__class__ is bytes else msg[1:])
        return True

    def can_send(self) -> bool:
        return True

    def can_recv(self) -> bool:
        return fair_peek(self.ready)


class Pub(Pattern):
    """Fan-out filtered by the subscriptions each peer sent; never blocks (drops instead).

    Peers subscribed to everything over a plain (unencrypted) tcp or ipc connection share
    one :class:`FanoutLog` instead of a pipe each (see plumbing/fanout.py): the message is
    encoded and queued once for all of them."""

    name = "PUB"
    bare_send = True

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.dist = Distributor()
        self.subs = Subscriptions(counted=False)  # a repeated subscription is one (libzmq)
        self.pending: deque = deque()  # subscription messages for XPUB's recv
        self.nodrop = False
        self.shares = True  # new followers of the shared log are allowed (see refresh)
        self.log: FanoutLog | None = None
        # With a log: the peers that still get a message through their pipe when all
        # subscribe to everything, and those a filtered message skips (they follow the
        # log, or lose messages at the mark); None when they need working out again.
        self.rest: list[Peer] | None = None
        self.skip: set = set()
        # All subscribe to everything and all follow the log (nothing drains): a send is
        # one append to the log.
        self.only_log = False
        self.refresh()

    invert = False

    def refresh(self) -> None:
        opts = self.sock.options
        self.nodrop = bool(opts.get(C.XPUB_NODROP))
        invert = bool(opts.get(C.INVERT_MATCHING))
        # Inverted, a peer subscribed to everything gets nothing: no shared log then.
        self.shares = not (opts.get(C.CONFLATE) or opts.get(C.MECHANISM) == C.CURVE or invert)
        if invert != self.invert:
            self.invert = invert
            if invert:  # bound per instance: the usual send pays nothing for the option
                self.send = self._send_inverted
            else:
                vars(self).pop("send", None)
            for peer in list(self.dist.peers):
                self._everything_changed(peer)  # (un)follow the log as ``shares`` says
        if self.log is not None:
            self.log.set_hwm(opts.get(C.SNDHWM))

    def attach(self, peer: Peer) -> bool:
        self.dist.attach(peer)
        welcome = self.sock.options.get(C.XPUB_WELCOME_MSG)
        if welcome:
            peer.out.write([welcome])
        return True

    def detach(self, peer: Peer) -> None:
        self.dist.detach(peer)
        if self.log is not None:
            self.log.forget(peer)
            self._replan()
        for topic in self.subs.remove_peer(peer):
            self._notify(False, topic, True)

    def _notify(self, subscribe: bool, topic: bytes, changed: bool) -> None:
        """XPUB reports subscriptions to the application; PUB ignores them."""

    def _apply(self, peer: Peer, item) -> None:
        if item.__class__ is Subscription:
            self._replan()
            if item.subscribe:
                self._notify(True, item.topic, self.subs.add(item.topic, peer))
            else:
                self._notify(False, item.topic, self.subs.remove(item.topic, peer))
            if not item.topic:
                self._everything_changed(peer)

    def _replan(self) -> None:
        """Who gets a message through the log and who through a pipe changed (a
        subscription, a peer, the log's members): work it out again at the next send."""
        self.rest = None
        self.only_log = False

    def subscribe_all(self, peer: Peer) -> None:
        """``peer`` takes every message, unasked (a multicast session: libzmq attaches
        those "subscribed to all", and its receivers filter); XPUB reports nothing."""
        self.subs.add(b"", peer)
        self._everything_changed(peer)

    # -- the shared log ------------------------------------------------------------------
    def _everything_changed(self, peer: Peer) -> None:
        """``peer``'s subscription to everything came or went: (un)follow the log."""
        self._replan()
        log = self.log
        if self._should_follow(peer):
            if log is None:
                log = self.log = FanoutLog(
                    self.sock.options.get(C.SNDHWM), functools.partial(self.sock._writable, None)
                )
            if peer not in log.readers and peer not in log.draining:
                log.join(peer)  # (a draining peer joins again once it is done: _settle)
        elif log is not None:
            log.leave(peer)

    def _should_follow(self, peer: Peer) -> bool:
        return (
            self.shares
            and peer.attached
            and getattr(peer.session, "shares_fanout", False)
            and self.subs.has(b"", peer)
        )

    def _settle(self, log: FanoutLog) -> None:
        """Peers whose engines finished what they had in the log before they left it."""
        settled = log.settled()
        for peer in settled:
            if self._should_follow(peer):
                log.join(peer)
        if settled:
            self._replan()

    def _plan(self, log: FanoutLog) -> list[Peer]:
        draining = log.draining
        skip = {p for p, r in draining.items() if r.dropping}
        skip.update(log.readers)
        self.skip = skip
        everything = self.subs.everything
        rest = [] if everything is None else [p for p in everything if p not in skip]
        self.rest = rest
        self.only_log = everything is not None and not rest and not draining
        return rest

    def send(self, msg: list) -> bool:
        if self.ready:
            self._drain()
        log = self.log
        if log is not None:
            if self.only_log and log.room > 0 and msg.__class__ is bytes and len(msg) < 256:
                log.publish(SHORT_HEADERS[len(msg)] + msg)  # the common case, inlined
                return True
            return self._send_shared(msg, log)
        peers = self.subs.everything
        if peers is None:
            peers = self.subs.match_peers(msg)
            if not peers:
                return True
        return self.dist.send_to(peers, msg, self.nodrop)

    def _send_inverted(self, msg: list) -> bool:
        """INVERT_MATCHING: to the peers that *no* subscription of theirs matches (libzmq)."""
        if self.ready:
            self._drain()
        matched = self.subs.match_peers(msg)
        peers = [p for p in self.dist.peers if p not in matched]
        return not peers or self.dist.send_to(peers, msg, self.nodrop)

    def _send_shared(self, msg, log: FanoutLog) -> bool:
        if log.draining:
            self._settle(log)
        if log.readers and log.room <= 0:
            room = log.make_room(self.nodrop)
            if room is False:
                return False
            if room is not True:  # laggards parked: they lose messages for a while
                self._replan()
        rest = self.rest
        if rest is None:
            rest = self._plan(log)
        if self.subs.everything is not None:
            peers = rest
        else:
            peers = self.subs.match_peers(msg)
            skip = self.skip
            if skip and peers:
                peers = [p for p in peers if p not in skip]
        if peers and not self.dist.send_to(peers, msg, self.nodrop):
            return False
        if log.readers:
            log.publish(wire_form(msg))
        return True

    def _drain(self) -> None:
        ready = self.ready
        while ready:
            peer, item = fair_recv(ready)
            if peer is None:
                return
            self._apply(peer, item)

    def can_send(self) -> bool:
        return True


class XPub(Pub):
    """PUB that hands subscriptions to the application (``\\x01topic`` / ``\\x00topic``)."""

    name = "XPUB"

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.last_peer: Peer | None = None

    def _notify(self, subscribe: bool, topic: bytes, changed: bool) -> None:
        opts = self.sock.options
        if subscribe:
            if changed or opts.get(C.XPUB_VERBOSE) or opts.get(C.XPUB_VERBOSER):
                self.pending.append([b"\x01" + topic])
        elif changed or opts.get(C.XPUB_VERBOSER):
            self.pending.append([b"\x00" + topic])

    def _apply(self, peer: Peer, item) -> None:
        if item.__class__ is Subscription and self.sock.options.get(C.XPUB_MANUAL):
            self.last_peer = peer
            self.pending.append([(b"\x01" if item.subscribe else b"\x00") + item.topic])
            return
        if is_message(item):
            self.pending.append(item)  # a plain message from an XSUB user
            return
        super()._apply(peer, item)

    def recv(self) -> list | None:
        if not self.pending:
            self._drain()
        if self.pending:
            return self.pending.popleft()
        return None

    def can_recv(self) -> bool:
        # Apply queued subscriptions first: a duplicate one is not a message (POLLIN lied).
        if not self.pending and self.ready:
            self._drain()
        return bool(self.pending)

    def setsockopt(self, option: int, value) -> bool:
        if option in (C.SUBSCRIBE, C.UNSUBSCRIBE) and self.sock.options.get(C.XPUB_MANUAL):
            peer = self.last_peer
            if peer is not None:
                if option == C.SUBSCRIBE:
                    self.subs.add(bytes(value), peer)
                else:
                    self.subs.remove(bytes(value), peer)
                self._replan()
                if not value:
                    self._everything_changed(peer)
            return True
        return False


class XSub(Pattern):
    """Fair-queue in; subscriptions out to every publisher, re-sent on reconnect."""

    name = "XSUB"

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.dist = Distributor()
        self.subs = Subscriptions()

    def attach(self, peer: Peer) -> bool:
        self.dist.attach(peer)
        self.hiccup(peer)
        return True

    def hiccup(self, peer: Peer) -> None:
        for topic in self.subs.topics():
            peer.out.write(Subscription(topic, True))

    def detach(self, peer: Peer) -> None:
        self.dist.detach(peer)

    def subscribe(self, topic: bytes, on: bool) -> None:
        # As libzmq: every subscription goes out (publishers keep one per peer, and an
        # XPUB_VERBOSE one reports each), a cancel only when the last of a topic's goes.
        if on:
            self.subs.add(topic)
        elif not self.subs.remove(topic):
            return
        item = Subscription(topic, on)
        for peer in self.dist.peers:
            peer.out.write(item)  # subscriptions are never dropped

    def send(self, msg: list) -> bool:
        first = msg[0]
        if len(msg) == 1 and len(first) and first[0] in (0, 1):
            self.subscribe(bytes(first[1:]), first[0] == 1)
            return True
        self.dist.send_to(self.dist.peers, msg)
        return True

    def recv(self) -> list | None:
        while True:
            msg = fair_recv_item(self.ready)
            if msg is None or is_message(msg):
                return msg

    def can_send(self) -> bool:
        return True

    def can_recv(self) -> bool:
        return fair_peek(self.ready)


class Sub(XSub):
    """XSUB that filters what arrives and takes subscriptions as socket options."""

    name = "SUB"

    def send(self, msg: list) -> bool:
        raise ZMQError(C.ENOTSUP)

    def can_send(self) -> bool:
        return False

    def setsockopt(self, option: int, value) -> bool:
        if option == C.SUBSCRIBE:
            self.subscribe(bytes(value), True)
            return True
        if option == C.UNSUBSCRIBE:
            self.subscribe(bytes(value), False)
            return True
        return False

    invert = False

    def refresh(self) -> None:
        self.invert = bool(self.sock.options.get(C.INVERT_MATCHING))
        self._bind_recv()

    def subscribe(self, topic: bytes, on: bool) -> None:
        super().subscribe(topic, on)
        self._bind_recv()

    def _bind_recv(self) -> None:
        """Subscribed to everything, a SUB filters nothing: its recv is the fair-queue."""
        if b"" in self.subs and not self.invert:
            self.recv = functools.partial(fair_recv_item, self.ready)
            self.fair_queue = True
        else:
            vars(self).pop("recv", None)
            self.fair_queue = False

    def recv(self) -> list | None:
        subs = self.subs
        invert = self.invert
        ready = self.ready
        while True:
            msg = fair_recv_item(ready)
            cls = msg.__class__
            if cls is bytes:
                if subs.matches(msg) is not invert:
                    return msg
            elif cls is list:
                if subs.matches(msg[0]) is not invert:
                    return msg
            elif msg is None:
                return None

    def can_recv(self) -> bool:
        # Peeking would need filtering; report what may be there and let recv decide.
        return fair_peek(self.ready)


class Stream(Router):
    """Raw TCP peers: ``[routing_id, data]`` both ways; ``[id, b""]`` on connect and
    disconnect, and sending ``[id, b""]`` closes that connection (libzmq's STREAM)."""

    name = "STREAM"

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.notices: deque = deque()

    def attach(self, peer: Peer) -> bool:
        if not super().attach(peer):
            return False
        self.notices.append([peer.routing_id, b""])
        return True

    def detach(self, peer: Peer) -> None:
        super().detach(peer)
        self.notices.append([peer.routing_id, b""])

    def recv(self) -> list | None:
        if self.notices:
            return self.notices.popleft()
        return super().recv()

    def send(self, msg: list) -> bool:
        if len(msg) != 2:
            raise ZMQError(C.EINVAL)
        rid = msg[0] if msg[0].__class__ is bytes else bytes(msg[0])
        peer = self.by_id.get(rid)
        if peer is None:
            raise ZMQError(C.EHOSTUNREACH)
        if peer.out.full():
            return False
        data = msg[1]
        peer.out.write(data if data.__class__ is bytes else [data])
        return True

    def can_recv(self) -> bool:
        return bool(self.notices) or fair_peek(self.ready)


PATTERNS: dict[int, type[Pattern]] = {
    C.PAIR: Pair,
    C.PUB: Pub,
    C.SUB: Sub,
    C.REQ: Req,
    C.REP: Rep,
    C.DEALER: Dealer,
    C.ROUTER: Router,
    C.PULL: Pull,
    C.PUSH: Push,
    C.XPUB: XPub,
    C.XSUB: XSub,
    C.STREAM: Stream,
}
