"""NewestLSH: the same newest candidates as datasketch's MinHashLSH with every member, bounded
buckets, removal of members a bucket already dropped."""

from __future__ import annotations

import heapq
import random

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH

from mailward.activity.campaign_lsh import NewestLSH

NUM_PERM = 64


def _sig(words: list[str]) -> LeanMinHash:
    m = MinHash(num_perm=NUM_PERM, seed=1)
    m.update_batch([w.encode() for w in words])
    return LeanMinHash(m)


def _family(rng: random.Random, base: list[str], n: int) -> list[list[str]]:
    """Near-duplicates of ``base``: a few words changed in each."""
    out = []
    for _ in range(n):
        words = list(base)
        for _ in range(rng.randint(0, 4)):
            words[rng.randrange(len(words))] = f"w{rng.randrange(10**6)}"
        out.append(words)
    return out


@pytest.mark.parametrize("keep", [3, 20])
def test_the_newest_candidates_are_those_of_the_full_index(keep: int) -> None:
    rng = random.Random(keep)
    times: dict[str, float] = {}
    full = MinHashLSH(threshold=0.6, num_perm=NUM_PERM)
    bounded = NewestLSH(0.6, NUM_PERM, keep, times.__getitem__)
    texts = []
    for family in range(4):
        base = [f"f{family}-{i}" for i in range(40)]
        texts += _family(rng, base, 60)
    texts += [[f"r{i}-{j}" for j in range(40)] for i in range(30)]  # unrelated messages
    order = list(range(len(texts)))
    rng.shuffle(order)
    sigs = {}
    for n, i in enumerate(order):
        key = f"k{i}"
        times[key] = n + rng.random() * 5  # mostly in order, some arriving late
        sigs[key] = _sig(texts[i])
        full.insert(key, sigs[key])
        bounded.insert(key, sigs[key])
    for sig in sigs.values():
        everyone = full.query(sig)
        expected = sorted(heapq.nlargest(keep, everyone, key=times.__getitem__))
        assert sorted(bounded.query(sig)) == expected
    for table in bounded.tables:
        assert all(len(bucket) <= 2 * keep for bucket in table.values())


def test_members_leave_and_dropped_ones_can_be_removed() -> None:
    times: dict[str, float] = {}
    lsh = NewestLSH(0.6, NUM_PERM, 2, times.__getitem__)
    sig = _sig([f"same-{i}" for i in range(30)])
    for i in range(10):
        times[f"m{i}"] = float(i)
        lsh.insert(f"m{i}", sig)
    assert sorted(lsh.query(sig)) == ["m8", "m9"]
    for i in range(10):  # the oldest first, as the window expires them
        lsh.remove(f"m{i}")
    assert lsh.query(sig) == [] and not any(lsh.tables) and "m0" not in lsh
    with pytest.raises(ValueError):
        lsh.remove("m0")


def test_a_key_is_inserted_once() -> None:
    lsh = NewestLSH(0.6, NUM_PERM, 2, {"a": 0.0}.__getitem__)
    sig = _sig(["a", "b", "c"])
    lsh.insert("a", sig)
    with pytest.raises(ValueError):
        lsh.insert("a", sig)


def test_bands_are_keyed_as_datasketch_keys_them() -> None:
    full = MinHashLSH(threshold=0.6, num_perm=NUM_PERM)
    mine = NewestLSH(0.6, NUM_PERM, 5, {"x": 0.0}.__getitem__)
    sig = _sig(list("abcdefghij"))
    full.insert("x", sig)
    mine.insert("x", sig)
    assert [r for r in full.hashranges] == mine.ranges
    assert list(mine.keys["x"]) == [full._H(sig.hashvalues[s:e]) for s, e in full.hashranges]
    assert np.array_equal(sig.hashvalues, _sig(list("abcdefghij")).hashvalues)
