"""Subscription matching whose cost grows with the topic length, not the subscription count.

Subscriptions are kept as ``prefix -> {peer: count}`` plus the set of distinct prefix
lengths in use.  Matching a topic looks up ``topic[:n]`` for each length ``n`` in use that
fits, so a publisher with 100,000 subscriptions of a few different lengths does a few dict
lookups per message.  A SUB counts its own duplicates, as libzmq's trie does, and tells its
publishers when the last one goes; a publisher keeps each peer once per prefix (a set, as
libzmq's mtrie), so a subscription repeated on a reconnect or by an XSUB is not counted twice.
"""

from __future__ import annotations


class Subscriptions:
    """Prefix subscriptions, optionally per peer (``peer=None`` for a SUB's own); counted, or
    (``counted=False``) one per peer and prefix however often it is added."""

    __slots__ = ("_subs", "_lengths", "everything", "counted")

    def __init__(self, counted: bool = True) -> None:
        self.counted = counted
        self._subs: dict[bytes, dict[object, int]] = {}
        self._lengths: dict[int, int] = {}  # prefix length -> number of prefixes
        # The peers of the empty prefix while it is the only one: then every topic matches
        # exactly them (the common case), without a lookup per message.
        self.everything: dict[object, int] | None = None

    def _prefixes_changed(self) -> None:
        lengths = self._lengths
        self.everything = self._subs[b""] if len(lengths) == 1 and 0 in lengths else None

    def add(self, prefix: bytes, peer: object = None) -> bool:
        """Add one subscription; True if ``prefix`` had no subscriber before."""
        peers = self._subs.get(prefix)
        if peers is None:
            self._subs[prefix] = {peer: 1}
            n = len(prefix)
            self._lengths[n] = self._lengths.get(n, 0) + 1
            self._prefixes_changed()
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
        n = len(prefix)
        if self._lengths[n] == 1:
            del self._lengths[n]
        else:
            self._lengths[n] -= 1
        self._prefixes_changed()
        return True

    def remove_peer(self, peer: object) -> list[bytes]:
        """Drop every subscription of ``peer``; return the prefixes left with no subscriber."""
        emptied = []
        for prefix in [p for p, peers in self._subs.items() if peer in peers]:
            self._subs[prefix][peer] = 1
            if self.remove(prefix, peer):
                emptied.append(prefix)
        return emptied

    def matches(self, topic) -> bool:
        """True if any subscription is a prefix of ``topic``."""
        subs = self._subs
        size = len(topic)
        for n in self._lengths:
            if n <= size and topic[:n] in subs:
                return True
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
        subs = self._subs
        lengths = self._lengths
        size = len(topic)
        found = None
        for n in lengths:
            if n <= size:
                peers = subs.get(topic[:n])
                if peers is not None:
                    if found is None:
                        found = peers
                    else:
                        if found.__class__ is not set:
                            found = set(found)
                        found.update(peers)
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
