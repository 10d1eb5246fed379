"""The draft socket types (libzmq's ``ZMQ_BUILD_DRAFT_API``), composed like the others.

All of them carry one frame per message: sending more (``SNDMORE``, a multipart
``send_multipart``) is ``EINVAL``, and a multipart message from a peer that does not follow
the RFCs is dropped, as libzmq drops it.

* CLIENT / SERVER (RFC 41): CLIENT load-balances out and fair-queues in.  SERVER
  fair-queues in and gives each peer a routing id (a random non-zero uint32 counter, as
  libzmq's); a received message tells it (``Frame.routing_id``) and a message sent with it
  goes back to that peer only (an unknown id is ``EHOSTUNREACH``; a full peer blocks).
* PEER (RFC 51): a SERVER that talks to PEERs and whose ``connect_peer`` returns the
  routing id of the new connection.
* RADIO / DISH (RFC 48): a DISH joins groups; over ZMTP it sends ``JOIN`` / ``LEAVE``
  commands (:class:`GroupMembership` in pipes), sent again to each new or re-established
  connection.  A RADIO sends each message (``send(data, group=g)``) as two frames, the
  group then the body, to the peers joined to the group, dropping it for a peer at its
  high-water mark unless ``XPUB_NODROP`` is set (then it blocks, as libzmq's ``EAGAIN``);
  a udp peer takes every message.  A DISH delivers only messages of groups it joined.
  Groups are at most 255 bytes (``ZMQ_GROUP_MAX_LENGTH`` of libzmq 4.3.5; it was 15 before
  4.3.2) without NUL.
* SCATTER / GATHER (RFC 49): PUSH / PULL with one frame per message.
* CHANNEL (RFC 52): PAIR with one frame per message.

Routing ids and groups travel beside the message, never in the pipes: a send carries them
in an :class:`Addressed` list (built by the sugar layer from pyzmq's ``routing_id=`` /
``group=`` arguments or a ``Frame``'s attributes), and ``recv`` leaves those of the message
it returned in ``rx_routing_id`` / ``rx_group`` (``Frame.routing_id`` / ``Frame.group``).
"""

from __future__ import annotations

import operator
import os

from purezmq import constants as C
from purezmq.error import ZMQError
from purezmq.patterns.strategies import Distributor, LoadBalancer, fair_recv
from purezmq.patterns.types import PATTERNS, Pattern
from purezmq.plumbing.pipe import Peer
from purezmq.zmtp.events import GroupMembership

GROUP_MAX_LENGTH = 255


class Addressed(list):
    """An outgoing message (``[body]``) with pyzmq's draft ``routing_id`` and ``group``."""

    __slots__ = ("routing_id", "group")

    def __init__(self, frames, routing_id: int | None = None, group: bytes | None = None):
        super().__init__(frames)
        self.routing_id = routing_id
        self.group = group


def group_bytes(group) -> bytes:
    """A group as sent on the wire (str: UTF-8); EINVAL if too long or holding a NUL."""
    if isinstance(group, str):
        raw = group.encode("utf-8", "surrogateescape")
    elif isinstance(group, (bytes, bytearray, memoryview)):
        raw = bytes(group)
    else:
        raise TypeError(f"group must be str or bytes, not {type(group).__name__}")
    if len(raw) > GROUP_MAX_LENGTH or b"\x00" in raw:
        raise ZMQError(C.EINVAL)
    return raw


def group_str(raw: bytes) -> str:
    """A received group as pyzmq shows it (``Frame.group`` is a str)."""
    return raw.decode("utf-8", "surrogateescape")


def check_routing_id(routing_id) -> int:
    """A routing id as ``zmq_msg_set_routing_id`` takes it: a non-zero uint32."""
    rid = operator.index(routing_id)
    if not 0 <= rid <= 0xFFFFFFFF:
        raise OverflowError(f"routing_id {rid} does not fit in a uint32")
    if rid == 0:
        raise ZMQError(C.EINVAL)
    return rid


def addressed(data: bytes, routing_id, group) -> Addressed:
    """The message of ``send(data, routing_id=..., group=...)``, its arguments checked."""
    return Addressed(
        [data],
        None if routing_id is None else check_routing_id(routing_id),
        None if group is None else group_bytes(group),
    )


class _Draft(Pattern):
    """One frame per message; ``recv``/``can_recv`` share a message taken ahead."""

    single_part = True

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self._ahead: list | None = None  # a message can_recv() took before recv() asked

    def _take(self) -> list | None:
        """The next deliverable message (setting ``rx_*``), or None."""
        while True:
            peer, msg = fair_recv(self.ready)
            if peer is None:
                return None
            if msg.__class__ is bytes or (msg.__class__ is list and len(msg) == 1):
                return msg

    def recv(self) -> list | None:
        msg = self._ahead
        if msg is not None:
            self._ahead = None
            return msg
        return self._take()

    def can_recv(self) -> bool:
        if self._ahead is None:
            self._ahead = self._take()
        return self._ahead is not None


def _one_frame(msg: list) -> list:
    if len(msg) != 1:
        raise ZMQError(C.EINVAL)
    return msg if msg.__class__ is list else [msg[0]]


class Client(_Draft):
    """Load-balance out, fair-queue in (RFC 41)."""

    name = "CLIENT"

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.lb = LoadBalancer()

    def attach(self, peer: Peer) -> bool:
        self.lb.attach(peer)
        return True

    def detach(self, peer: Peer) -> None:
        self.lb.detach(peer)

    def send(self, msg: list) -> bool:
        return self.lb.send(_one_frame(msg))

    def can_send(self) -> bool:
        return self.lb.can_send()


class Server(_Draft):
    """Fair-queue in with the peer's routing id; route out by it (RFC 41)."""

    name = "SERVER"

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.by_id: dict[int, Peer] = {}
        self.ids: dict[Peer, int] = {}
        self.next_id = int.from_bytes(os.urandom(4), "big")
        self.last_id = 0  # of the peer attached last (PEER's connect_peer)

    def attach(self, peer: Peer) -> bool:
        rid = self.next_id
        while not rid or rid in self.by_id:  # never 0, as libzmq
            rid = (rid + 1) & 0xFFFFFFFF
        self.next_id = (rid + 1) & 0xFFFFFFFF
        self.by_id[rid] = peer
        self.ids[peer] = rid
        self.last_id = rid
        return True

    def detach(self, peer: Peer) -> None:
        rid = self.ids.pop(peer, None)
        if rid is not None:
            del self.by_id[rid]

    def _take(self) -> list | None:
        while True:
            peer, msg = fair_recv(self.ready)
            if peer is None:
                return None
            if msg.__class__ is not bytes and (msg.__class__ is not list or len(msg) != 1):
                continue
            rid = self.ids.get(peer)
            if rid is not None:  # else the peer left since
                self.rx_routing_id = rid
                return msg

    def send(self, msg: list) -> bool:
        if len(msg) != 1:
            raise ZMQError(C.EINVAL)
        rid = getattr(msg, "routing_id", None)
        peer = self.by_id.get(rid) if rid else None
        if peer is None:
            raise ZMQError(C.EHOSTUNREACH)
        out = peer.out
        if out.full():
            return False
        body = msg[0]
        out.write(body if body.__class__ is bytes else [body])  # one frame travels bare
        return True

    def can_send(self) -> bool:
        return True  # as libzmq: whether a send goes depends on its peer


class PeerSocket(Server):
    """SERVER semantics between PEER sockets, plus ``connect_peer`` (RFC 51)."""

    name = "PEER"


class Radio(_Draft):
    """Send each message to the peers joined to its group (RFC 48)."""

    name = "RADIO"

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.dist = Distributor()
        self.groups: dict[Peer, set[bytes]] = {}  # what each ZMTP/inproc peer joined
        self.members: dict[bytes, dict[Peer, None]] = {}  # group -> peers, in join order
        self.everything: list[Peer] = []  # udp peers: every message, the DISH filters

    def attach(self, peer: Peer) -> bool:
        self.dist.attach(peer)
        if getattr(peer.session, "all_groups", False):
            self.everything.append(peer)
        else:
            self.groups[peer] = set()
        return True

    def detach(self, peer: Peer) -> None:
        self.dist.detach(peer)
        if peer in self.everything:
            self.everything.remove(peer)
        for group in self.groups.pop(peer, ()):
            self._unjoin(group, peer)

    def _unjoin(self, group: bytes, peer: Peer) -> None:
        members = self.members.get(group)
        if members is not None:
            members.pop(peer, None)
            if not members:
                del self.members[group]

    def _drain(self) -> None:
        """Apply the JOINs and LEAVEs that arrived (anything else a DISH sends is dropped)."""
        ready = self.ready
        while ready:
            peer, item = fair_recv(ready)
            if peer is None:
                return
            if item.__class__ is not GroupMembership:
                continue
            joined = self.groups.get(peer)
            if joined is None:
                continue
            group = item.group
            if item.join:
                joined.add(group)
                self.members.setdefault(group, {})[peer] = None
            elif group in joined:
                joined.discard(group)
                self._unjoin(group, peer)

    def send(self, msg: list) -> bool:
        if len(msg) != 1:
            raise ZMQError(C.EINVAL)
        if self.ready:
            self._drain()
        group = getattr(msg, "group", None) or b""
        members = self.members.get(group)
        peers = [*members, *self.everything] if members else self.everything
        if not peers:
            return True
        return self.dist.send_to(peers, [group, msg[0]], self.sock.options.get(C.XPUB_NODROP))

    def recv(self) -> list | None:
        raise ZMQError(C.ENOTSUP)

    def can_send(self) -> bool:
        return True

    def can_recv(self) -> bool:
        return False


class Dish(_Draft):
    """Join groups; fair-queue in the messages of joined groups (RFC 48)."""

    name = "DISH"

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.dist = Distributor()
        self.joined: dict[bytes, None] = {}  # in join order
        # As libzmq: a closing DISH does not wait to send its pending JOINs.
        sock.options[C.LINGER] = 0

    def attach(self, peer: Peer) -> bool:
        self.dist.attach(peer)
        self.hiccup(peer)
        return True

    def hiccup(self, peer: Peer) -> None:
        for group in self.joined:
            peer.out.write(GroupMembership(group, True))

    def detach(self, peer: Peer) -> None:
        self.dist.detach(peer)

    def _tell(self, group: bytes, join: bool) -> None:
        item = GroupMembership(group, join)
        for peer in self.dist.peers:
            peer.out.write(item)  # never dropped, as subscriptions

    def join(self, group) -> None:
        raw = group_bytes(group)
        if raw in self.joined:
            raise ZMQError(C.EINVAL)
        self.joined[raw] = None
        self._tell(raw, True)

    def leave(self, group) -> None:
        raw = group_bytes(group)
        if raw not in self.joined:
            raise ZMQError(C.EINVAL)
        del self.joined[raw]
        self._tell(raw, False)

    def _take(self) -> list | None:
        joined = self.joined
        while True:
            peer, msg = fair_recv(self.ready)
            if peer is None:
                return None
            if msg.__class__ is not list or len(msg) != 2:
                continue
            group = msg[0]
            if group.__class__ is not bytes:
                group = bytes(group)
            if group in joined:
                self.rx_group = group_str(group)
                return [msg[1]]

    def send(self, msg: list) -> bool:
        raise ZMQError(C.ENOTSUP)

    def can_send(self) -> bool:
        return True  # as libzmq: joins and leaves can be sent at any time


class Scatter(_Draft):
    """PUSH, one frame per message (RFC 49)."""

    name = "SCATTER"

    def __init__(self, sock) -> None:
        super().__init__(sock)
        self.lb = LoadBalancer()

    def attach(self, peer: Peer) -> bool:
        self.lb.attach(peer)
        return True

    def detach(self, peer: Peer) -> None:
        self.lb.detach(peer)

    def send(self, msg: list) -> bool:
        return self.lb.send(_one_frame(msg))

    def can_send(self) -> bool:
        return self.lb.can_send()

    def recv(self) -> list | None:
        raise ZMQError(C.ENOTSUP)

    def can_recv(self) -> bool:
        return False


class Gather(_Draft):
    """PULL, one frame per message (RFC 49)."""

    name = "GATHER"


class Channel(Client):
    """PAIR, one frame per message (RFC 52): a second peer is refused."""

    name = "CHANNEL"
    max_peers = 1

    def attach(self, peer: Peer) -> bool:
        if self.lb.peers:
            return False
        return super().attach(peer)


DRAFT_PATTERNS: dict[int, type[Pattern]] = {
    C.SERVER: Server,
    C.CLIENT: Client,
    C.RADIO: Radio,
    C.DISH: Dish,
    C.GATHER: Gather,
    C.SCATTER: Scatter,
    C.PEER: PeerSocket,
    C.CHANNEL: Channel,
}
PATTERNS.update(DRAFT_PATTERNS)
