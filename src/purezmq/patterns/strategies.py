"""The routing strategies that socket types are made of.

* :class:`LoadBalancer` sends each message to the next peer that can take it (PUSH,
  DEALER, REQ).
* :func:`fair_recv` takes the next message round-robin from the peers that have one, using
  the socket's *ready* deque: a peer is appended to it (by its pipe's ``on_readable``) when
  its inbound pipe goes from empty to non-empty, so an idle peer costs nothing per message.
* :class:`Distributor` fans a message out to many peers (PUB, XPUB, RADIO).

None of these block or touch I/O; a ``False``/``None`` result means "would block".
"""

from __future__ import annotations

from collections import deque
from itertools import islice

from purezmq.plumbing.pipe import Peer


class LoadBalancer:
    """Round-robin over peers, skipping those at their high-water mark."""

    __slots__ = ("peers", "_next")

    def __init__(self) -> None:
        self.peers: list[Peer] = []
        self._next = 0

    def attach(self, peer: Peer) -> None:
        self.peers.append(peer)

    def detach(self, peer: Peer) -> None:
        try:
            self.peers.remove(peer)
        except ValueError:
            pass

    def pick(self) -> Peer | None:
        """The peer the next message goes to, or None if all are full (or none exist)."""
        peers = self.peers
        n = len(peers)
        i = self._next
        for _ in range(n):
            if i >= n:
                i = 0
            peer = peers[i]
            i += 1
            out = peer.out
            if not out.hwm or len(out.q) < out.hwm or not out.full():
                self._next = i
                return peer
        return None

    def send(self, msg) -> bool:
        """Queue ``msg`` to the next peer that can take it; False if none can."""
        peers = self.peers
        if len(peers) == 1:  # the common case, inlined
            out = peers[0].out
            if not out.hwm or len(out.q) < out.hwm:
                out.q.append(msg)
                if out.armed:
                    out.armed = False
                    out.on_readable(out)
                return True
        peer = self.pick()
        if peer is None:
            return False
        peer.out.write(msg)
        return True

    def can_send(self) -> bool:
        return any(not p.out.full() for p in self.peers)


class ReadyQueue(deque):
    """The peers with inbound items, in arrival order; ``last`` is the peer read last
    (for ``Frame.get("Peer-Address")`` and friends)."""

    last: Peer | None = None


# These look at ``ready[0]`` and only then move it to the back (``rotate``) or drop it, once
# its pipe is re-armed: an exception at any point (KeyboardInterrupt: Ctrl-C lands in the
# caller's thread, wherever it is) may lose the item being taken, but never leaves a peer
# with queued items both out of ``ready`` and disarmed, which would stall it for good.
def fair_recv_item(ready: deque):
    """Pop the next item round-robin from the peers in ``ready`` (None if none), and
    record its peer as ``ready.last``: the one fair-queue, used directly by PULL, DEALER,
    PAIR and through :func:`fair_recv` by the patterns that route by peer."""
    if len(ready) == 1:
        # One peer has data (the common case): take from it without rotating the queue.
        peer = ready[0]
        pipe = peer.inp
        q = pipe.q
        if q:
            item = q.popleft()
            if not q and not pipe.rearm():
                ready.popleft()
            if pipe.writer_blocked:
                pipe.released()
            if ready.last is not peer:
                ready.last = peer
            return item
    while ready:
        peer = ready[0]
        pipe = peer.inp
        q = pipe.q
        if q:
            item = q.popleft()
            if q or pipe.rearm():
                ready.rotate(-1)
            else:
                ready.popleft()
            if pipe.writer_blocked:
                pipe.released()
            ready.last = peer
            return item
        if pipe.rearm():
            ready.rotate(-1)
        else:
            ready.popleft()
    return None


def move_run(ready: deque, lb: LoadBalancer, limit: int) -> tuple[int, int]:
    """Move up to ``limit`` one-frame messages from the only peer in ``ready`` into the only
    peer of ``lb``, as a batch (a proxy from a fair-queue to a load-balancer, when neither
    has a choice to make): C-level calls instead of a receive and a send per message.
    Returns (messages, bytes) moved; (0, 0) when the case does not apply (several peers,
    multipart messages, a full destination): then go message by message."""
    if len(ready) != 1 or len(lb.peers) != 1:
        return 0, 0
    peer = ready[0]
    pipe = peer.inp
    q = pipe.q
    out = lb.peers[0].out
    oq = out.q
    k = len(q)
    if k > limit:
        k = limit
    if out.hwm:
        room = out.hwm - len(oq)
        if k > room:
            k = room
    if k <= 1:
        return 0, 0
    batch = list(islice(q, k))
    if set(map(type, batch)) != _ONLY_BYTES:
        return 0, 0
    popleft = q.popleft
    for _ in range(k):
        popleft()
    oq.extend(batch)
    if out.armed:
        out.armed = False
        out.on_readable(out)
    if not q and not pipe.rearm():
        ready.popleft()
    if pipe.writer_blocked:
        pipe.released()
    ready.last = peer
    return k, sum(map(len, batch))


_ONLY_BYTES = {bytes}


def fair_recv(ready: deque) -> tuple[Peer | None, object]:
    """Pop the next item round-robin from the peers in ``ready``, with the peer it came
    from (patterns that route by peer: ROUTER, REP, REQ); (None, None) if none."""
    item = fair_recv_item(ready)
    if item is None:
        return None, None
    return ready.last, item


def fair_peek(ready: deque) -> bool:
    """True if some ready peer has an item (drops peers that turned out to be empty)."""
    while ready:
        peer = ready[0]
        if peer.inp.q:
            return True
        if peer.inp.rearm():
            ready.rotate(-1)
        else:
            ready.popleft()
    return False


class Distributor:
    """Fan-out: a message goes to every matching peer that is not at its mark."""

    __slots__ = ("peers", "dropped")

    def __init__(self) -> None:
        self.peers: list[Peer] = []
        self.dropped = 0  # messages a slow peer lost at its high-water mark

    def attach(self, peer: Peer) -> None:
        self.peers.append(peer)

    def detach(self, peer: Peer) -> None:
        try:
            self.peers.remove(peer)
        except ValueError:
            pass

    def send_to(self, peers, msg, nodrop: bool = False) -> bool:
        """Queue ``msg`` to each of ``peers``; a peer at its mark misses it (counted in
        ``dropped``), or with ``nodrop`` nobody gets it and the result is False.

        Per message and peer this is the publisher's whole cost, so ``Pipe.write`` and
        ``Pipe.full`` are inlined."""
        if len(peers) == 1:  # one subscriber matched (a filtered topic): one pass
            for peer in peers:
                out = peer.out
                q = out.q
                if out.hwm and len(q) >= out.hwm:
                    if nodrop and out.full():
                        return False
                    if len(q) >= out.hwm:
                        self.dropped += 1
                        return True
                q.append(msg)
                if out.armed:
                    out.armed = False
                    out.on_readable(out)
            return True
        if nodrop:
            for peer in peers:
                out = peer.out
                if out.hwm and len(out.q) >= out.hwm and out.full():
                    return False
        # Each receiver owns its list (the frames themselves are shared, immutable); a
        # one-frame message is its bytes, shared by all.
        shared = msg.__class__ is not list
        first = True
        for peer in peers:
            out = peer.out
            q = out.q
            if out.hwm and len(q) >= out.hwm:
                self.dropped += 1
                continue
            q.append(msg if shared or first else msg.copy())
            first = False
            if out.armed:
                out.armed = False
                out.on_readable(out)
        return True
