"""``Subscriptions`` against a brute-force model: prefixes per peer, counted (a SUB's own)
or kept once (a publisher's), and the cached ``everything`` short-cut kept right through any
order of adds and removes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from purezmq.patterns import subscriptions as subscriptions_module
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


# Prefixes and topics over a two-letter alphabet: nested, shared and diverging prefixes split
# and merge the matching tree's edges in every way.
words = st.binary(max_size=6).map(lambda b: bytes(97 + (x & 1) for x in b))


@pytest.mark.parametrize("few", [0, 4], ids=["tree", "lookups while few lengths"])
@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["add", "remove", "drop"]), st.sampled_from(PEERS), words),
             max_size=60),
    st.lists(words, min_size=1, max_size=8),
)
def test_any_set_of_prefixes_matches_as_the_model(few, steps, topics):
    """Both ways of matching (the tree; a lookup per length while there are few lengths)
    agree with the model."""
    saved = subscriptions_module._FEW
    subscriptions_module._FEW = few
    try:
        _model_run(steps, topics)
    finally:
        subscriptions_module._FEW = saved


def _model_run(steps, topics) -> None:
    subs = Subscriptions(counted=True)
    model: dict[tuple[str, bytes], int] = {}
    for op, peer, prefix in steps:
        if op == "add":
            subs.add(prefix, peer)
            model[peer, prefix] = model.get((peer, prefix), 0) + 1
        elif op == "remove":
            subs.remove(prefix, peer)
            if model.get((peer, prefix)):
                model[peer, prefix] -= 1
        else:
            subs.remove_peer(peer)
            model = {k: v for k, v in model.items() if k[0] != peer}
        live = {k for k, v in model.items() if v > 0}
        for topic in [*topics, prefix, prefix + b"a", prefix[:-1]]:
            want = {p for p, pre in live if topic.startswith(pre)}
            assert set(subs.match_peers(topic)) == want, (topic, live)
            assert subs.matches(topic) == bool(want)
        assert sorted(subs.topics()) == sorted({pre for _, pre in live})


def _walks(subs: Subscriptions, topic: bytes) -> int:
    """How many tree nodes matching ``topic`` visits (white-box: the cost per message)."""
    node, pos, steps = subs._root, 0, 0
    while node.edges is not None and pos < len(topic):
        node = node.edges.get(topic[pos])
        if node is None or not topic.startswith(node.label, pos):
            break
        steps += 1
        pos += len(node.label)
    return steps


def test_the_cost_of_a_match_does_not_grow_with_the_number_of_prefix_lengths():
    import random

    rng = random.Random(5)
    subs = Subscriptions(counted=False)
    subs.add(b"news.", "good")
    hostile = [bytes(rng.randrange(256) for _ in range(n)) for n in range(1, 2001)]
    for prefix in hostile:
        subs.add(prefix, "hostile")
    topic = b"news.weather 21C"
    assert set(subs.match_peers(topic)) == {"good"}
    assert _walks(subs, topic) <= 2
    for n in (10, 500, 2000):  # the hostile prefixes still match what they should
        assert "hostile" in subs.match_peers(hostile[n - 1] + b"tail")


def test_a_hundred_thousand_prefixes_match_in_a_few_steps():
    import random

    rng = random.Random(6)
    subs = Subscriptions(counted=False)
    prefixes = {rng.randbytes(rng.randint(4, 12)) for _ in range(100_000)}
    for i, prefix in enumerate(prefixes):
        subs.add(prefix, i % 40)
    assert len(subs) == len(prefixes)
    for prefix in list(prefixes)[:200]:
        topic = prefix + b"payload"
        assert subs.matches(topic)
        assert _walks(subs, topic) <= 8
    order = list(prefixes)
    for i, prefix in enumerate(order):
        if i % 2:
            assert subs.remove(prefix, i % 40)
    assert len(subs) == (len(order) + 1) // 2
    for i, prefix in enumerate(order[:400]):  # (no prefix of another here: fixed seed)
        assert subs.matches(prefix + b"x") == (i % 2 == 0)
