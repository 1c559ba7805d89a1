"""CampaignIndex.match: the same answer as the general ranking it replaced (every matching
member followed to its cluster's root, voted, ranked), on an index with several clusters,
merges, shared indicators and empty texts; and the one-cluster path against the ranking."""

from __future__ import annotations

import random
from collections import Counter

from datasketch import LeanMinHash, MinHash

from mailward.activity.campaign_index import CampaignIndex, IndexedMessage, Indicators

NUM_PERM = 64


def _sig(words: list[str]) -> LeanMinHash:
    m = MinHash(num_perm=NUM_PERM, seed=1)
    m.update_batch([w.encode() for w in words])
    return LeanMinHash(m)


def reference_match(index: CampaignIndex, sig: LeanMinHash, ind: Indicators
                    ) -> tuple[str | None, str, tuple[str, ...]]:
    """The match as it was written before its fast paths (kept here as the specification)."""
    found: dict[str, str] = {}
    has_text = not sig.is_empty()
    if has_text:
        keys = index.lsh.query(sig)
        scores = index.signatures.similarities(sig, keys)
        found.update((k, "content") for k, s in zip(keys, scores, strict=True)
                     if s >= index.similarity)
    for value in ind.strong:
        for key in index._newest(value):
            found.setdefault(key, "attachment")
    if has_text:
        for value in ind.infra:
            keys = [k for k in index._newest(value) if k not in found]
            scores = index.signatures.similarities(sig, keys)
            kind = "link" if value.startswith("link:") else "infra"
            found.update((k, kind) for k, s in zip(keys, scores, strict=True)
                         if s >= index.infra_similarity)
    if not found:
        return None, "new", ()
    votes: Counter[str] = Counter()
    first: dict[str, float] = {}
    clusters: dict[str, str] = {}
    for key in found:
        member = index.members[key]
        clusters[key] = cid = index.root(member.cluster)
        votes[cid] += 1
        first[cid] = min(first.get(cid, member.at), member.at)
    ranked = sorted(votes, key=lambda c: (-votes[c], first[c]))
    how = Counter(v for k, v in found.items() if clusters[k] == ranked[0])
    return ranked[0], how.most_common(1)[0][0], tuple(ranked[1:])


def _message(rng: random.Random) -> tuple[LeanMinHash, Indicators]:
    family = rng.randrange(6)
    if family == 5 and rng.random() < 0.5:
        words: list[str] = []  # no text
    else:
        words = [f"f{family}-{i}" for i in range(30)]
        for _ in range(rng.randint(0, 12)):
            words[rng.randrange(len(words))] = f"w{rng.randrange(10**6)}"
    strong = tuple(f"sha256:{rng.randrange(4)}" for _ in range(rng.randint(0, 1)))
    infra = tuple(dict.fromkeys(rng.choice(["link:a.test", "link:b.test", "env:c.test",
                                            "from:d.test", "net:10.0.0.0/24"])
                                for _ in range(rng.randint(0, 3))))
    return _sig(words), Indicators(strong, infra)


def test_match_gives_the_answer_of_the_general_ranking() -> None:
    rng = random.Random(7)
    index = CampaignIndex(0.6, 0.35, NUM_PERM)
    labels = [f"c{n}" for n in range(8)]
    kinds: Counter[str] = Counter()
    for n in range(1500):
        sig, ind = _message(rng)
        expected = reference_match(index, sig, ind)
        assert index.match(sig, ind) == expected
        kinds["several" if expected[2] else "one" if expected[0] else "none"] += 1
        cluster = expected[0] or rng.choice(labels)
        index.add(f"k{n}", IndexedMessage(float(n) + rng.random() * 3, sig, cluster, ind))
        if n % 200 == 199:  # merge two clusters: members resolve through the alias
            a, b = rng.sample(labels, 2)
            index.merge(index.root(a), (b,))
        if n % 300 == 299:
            index.expire(n - 600.0)
    # every path was taken, the general ranking included
    assert kinds["several"] > 20 and kinds["one"] > 100 and kinds["none"] > 0
