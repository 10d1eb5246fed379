"""``Subscriptions`` against a brute-force model: prefixes per peer, counted (a SUB's own)
or kept once (a publisher's), and the cached ``everything`` short-cut kept right through any
order of adds and removes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from purezmq.patterns.subscriptions import Subscriptions

PEERS = ["p0", "p1", "p2"]
PREFIXES = [b"", b"a", b"ab", b"b"]
TOPICS = [b"", b"a", b"ab", b"abc", b"b", b"c"]

ops = st.lists(
    st.tuples(st.sampled_from(["add", "remove", "drop"]), st.sampled_from(PEERS),
              st.sampled_from(PREFIXES)),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(ops, st.booleans())
def test_matching_follows_a_model(steps, counted):
    subs = Subscriptions(counted=counted)
    model: dict[tuple[str, bytes], int] = {}
    for op, peer, prefix in steps:
        if op == "add":
            subs.add(prefix, peer)
            model[peer, prefix] = model.get((peer, prefix), 0) + 1 if counted else 1
        elif op == "remove":
            subs.remove(prefix, peer)
            if model.get((peer, prefix)):
                model[peer, prefix] -= 1
        else:
            subs.remove_peer(peer)
            model = {k: v for k, v in model.items() if k[0] != peer}
        live = {k for k, v in model.items() if v > 0}
        for topic in TOPICS:
            want = {p for p, pre in live if topic.startswith(pre)}
            assert set(subs.match_peers(topic)) == want
            assert subs.matches(topic) == bool(want)
        only_empty = bool(live) and all(pre == b"" for _, pre in live)
        assert (subs.everything is not None) == only_empty
        if only_empty:
            assert set(subs.everything) == {p for p, _ in live}


def test_a_message_stands_for_its_topic():
    subs = Subscriptions()
    subs.add(b"ab", "p")
    subs.add(b"x", "q")
    assert set(subs.match_peers(b"abc")) == {"p"}
    assert set(subs.match_peers([b"abc", b"body"])) == {"p"}  # the first frame
    assert set(subs.match_peers([memoryview(b"xy"), b"body"])) == {"q"}
    assert set(subs.match_peers([b"zz", b"ab"])) == set()
