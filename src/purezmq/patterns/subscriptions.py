"""Subscription matching whose cost grows with the matching prefixes, not with the number of
subscriptions or of their lengths.

Subscriptions are kept as ``prefix -> {peer: count}`` and, for matching, in a radix tree (a
trie whose edges carry whole runs of bytes, as libzmq's trie does byte by byte).  Matching a
topic walks the tree from the root along the topic: one dict lookup and one ``startswith``
per tree node on the topic's path, collecting the peers of each node passed.  The walk ends
at the first byte no subscription continues with, so a subscriber holding 2,000 prefixes of
2,000 different lengths costs a publisher one or two steps per message, as one prefix does;
only topics that really match deep prefixes walk deep.  With 100,000 subscriptions a walk is
a handful of steps.

While the prefixes come in a few lengths only (at most ``_FEW``: 100,000 topics of one
format are one length), matching skips the tree: one slice and one dict lookup per length,
cheaper than a walk of a dozen nodes.

A SUB counts its own duplicates, as libzmq's trie does, and tells its publishers when the
last one goes; a publisher keeps each peer once per prefix (a set, as libzmq's mtrie), so a
subscription repeated on a reconnect or by an XSUB is not counted twice.
"""

from __future__ import annotations


class _Node:
    """A node of the radix tree: ``label``, the bytes of the edge that leads here; the peers
    of the prefix that ends here (the same dict as in ``Subscriptions._subs``, or None); and
    ``first byte -> child`` (None while a leaf: most nodes are, and each dict costs memory
    and the cycle collector's time)."""

    __slots__ = ("label", "peers", "edges")

    def __init__(self, label: bytes = b"", peers: dict | None = None) -> None:
        self.label = label
        self.peers = peers
        self.edges: dict[int, _Node] | None = None


def _common(a: bytes, b: bytes) -> int:
    """Length of the common start of ``a`` and ``b`` (a binary search of slice compares)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


_FEW = 4  # up to this many prefix lengths, match by lookups rather than by the tree


class Subscriptions:
    """Prefix subscriptions, optionally per peer (``peer=None`` for a SUB's own); counted, or
    (``counted=False``) one per peer and prefix however often it is added."""

    __slots__ = ("_subs", "_root", "everything", "counted", "_lengths", "_few")

    def __init__(self, counted: bool = True) -> None:
        self.counted = counted
        self._subs: dict[bytes, dict[object, int]] = {}
        self._root = _Node()
        # The peers of the empty prefix while it is the only one: then every topic matches
        # exactly them (the common case), without a walk per message.
        self.everything: dict[object, int] | None = None
        self._lengths: dict[int, int] = {}  # prefix length -> prefixes of that length
        self._few: tuple[int, ...] | None = ()  # the lengths, ascending, while few

    def _prefixes_changed(self, length: int, delta: int) -> None:
        subs = self._subs
        self.everything = subs[b""] if len(subs) == 1 and b"" in subs else None
        lengths = self._lengths
        left = lengths.get(length, 0) + delta
        if left > 0:
            lengths[length] = left
        else:
            lengths.pop(length, None)
        self._few = tuple(sorted(lengths)) if len(lengths) <= _FEW else None

    # -- the tree --------------------------------------------------------------------------
    def _insert(self, prefix: bytes, peers: dict) -> None:
        node = self._root
        pos = 0
        end = len(prefix)
        while pos < end:
            edges = node.edges
            if edges is None:
                edges = node.edges = {}
            key = prefix[pos]
            child = edges.get(key)
            if child is None:
                edges[key] = _Node(prefix[pos:], peers)
                return
            label = child.label
            if prefix.startswith(label, pos):  # the whole edge: on down
                node = child
                pos += len(label)
                continue
            # Split the edge where the new prefix leaves it.
            k = _common(label, prefix[pos:])
            mid = _Node(label[:k])
            child.label = label[k:]
            mid.edges = {label[k]: child}
            edges[key] = mid
            node = mid
            pos += k
        node.peers = peers

    def _delete(self, prefix: bytes) -> None:
        """Forget the (now subscriber-less) ``prefix``: drop its node, merge what it leaves."""
        path: list[tuple[_Node, int]] = []  # (parent, key of the child) down to the prefix
        node = self._root
        pos = 0
        while pos < len(prefix):
            key = prefix[pos]
            path.append((node, key))
            node = node.edges[key]
            pos += len(node.label)
        node.peers = None
        # Remove a childless node; fold a node with one child and no peers into that child.
        while path:
            parent, key = path.pop()
            child = parent.edges[key]
            if child.peers is not None:
                break
            if not child.edges:
                del parent.edges[key]
                if not parent.edges:
                    parent.edges = None
                continue  # the parent may now be foldable
            if len(child.edges) == 1:
                (grandchild,) = child.edges.values()
                grandchild.label = child.label + grandchild.label
                parent.edges[key] = grandchild
            break

    def add(self, prefix: bytes, peer: object = None) -> bool:
        """Add one subscription; True if ``prefix`` had no subscriber before."""
        peers = self._subs.get(prefix)
        if peers is None:
            prefix = bytes(prefix)
            peers = self._subs[prefix] = {peer: 1}
            self._insert(prefix, peers)
            self._prefixes_changed(len(prefix), 1)
            return True
        peers[peer] = peers.get(peer, 0) + 1 if self.counted else 1
        return False

    def remove(self, prefix: bytes, peer: object = None) -> bool:
        """Remove one subscription; True if ``prefix`` now has no subscriber at all."""
        peers = self._subs.get(prefix)
        if peers is None or peer not in peers:
            return False
        left = peers[peer] - 1
        if left > 0:
            peers[peer] = left
            return False
        del peers[peer]
        if peers:
            return False
        del self._subs[prefix]
        self._delete(bytes(prefix))
        self._prefixes_changed(len(prefix), -1)
        return True

    def remove_peer(self, peer: object) -> list[bytes]:
        """Drop every subscription of ``peer``; return the prefixes left with no subscriber."""
        emptied = []
        for prefix in [p for p, peers in self._subs.items() if peer in peers]:
            self._subs[prefix][peer] = 1
            if self.remove(prefix, peer):
                emptied.append(prefix)
        return emptied

    # -- matching --------------------------------------------------------------------------
    def matches(self, topic) -> bool:
        """True if any subscription is a prefix of ``topic``."""
        node = self._root
        if node.peers is not None:
            return True
        if topic.__class__ is not bytes:
            topic = bytes(topic)
        size = len(topic)
        few = self._few
        if few is not None:
            subs = self._subs
            for n in few:
                if n > size:
                    return False
                if topic[:n] in subs:
                    return True
            return False
        pos = 0
        edges = node.edges
        while edges is not None and pos < size:
            node = edges.get(topic[pos])
            if node is None:
                return False
            label = node.label
            if not topic.startswith(label, pos):
                return False
            if node.peers is not None:
                return True
            pos += len(label)
            edges = node.edges
        return False

    def match_peers(self, topic):
        """The peers with a subscription that is a prefix of ``topic`` (each once).  A
        message may stand for its topic: its bare ``bytes``, or a list (its first frame)."""
        if self.everything is not None:
            return self.everything
        if topic.__class__ is not bytes:
            topic = topic[0] if topic.__class__ is list else topic
            if topic.__class__ is not bytes:
                topic = bytes(topic)
        size = len(topic)
        few = self._few
        if few is not None:  # a lookup per prefix length (see the module docstring)
            subs = self._subs
            found = None
            for n in few:
                if n > size:
                    break
                peers = subs.get(topic[:n])
                if peers is not None:
                    if found is None:
                        found = peers
                    else:
                        if found.__class__ is not set:
                            found = set(found)
                        found.update(peers)
            return () if found is None else found
        node = self._root
        found = node.peers
        edges = node.edges
        pos = 0
        while edges is not None and pos < size:  # (a leaf ends the walk without a lookup)
            node = edges.get(topic[pos])
            if node is None:
                break
            label = node.label
            if not topic.startswith(label, pos):
                break
            pos += len(label)
            peers = node.peers
            if peers is not None:
                if found is None:
                    found = peers
                else:
                    if found.__class__ is not set:
                        found = set(found)
                    found.update(peers)
            edges = node.edges
        return () if found is None else found

    def has(self, prefix: bytes, peer: object = None) -> bool:
        """True if ``peer`` holds a subscription to exactly ``prefix``."""
        peers = self._subs.get(prefix)
        return peers is not None and peer in peers

    def topics(self) -> list[bytes]:
        return list(self._subs)

    def __contains__(self, prefix: bytes) -> bool:
        return prefix in self._subs

    def __len__(self) -> int:
        return len(self._subs)
