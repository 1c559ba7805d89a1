"""The campaign index as it was before session 11 (main ``3dfe7f6``), kept verbatim as the
reference the faster index is checked against (``test_campaign_replay.py``): its LSH
(``NewestLSH``), its signature rows (``SignatureMatrix``) and ``CampaignIndex`` (here
``ReferenceIndex``). Not to be changed with the index: it is what the index must still
answer."""

# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from itertools import filterfalse, islice
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from mailward.activity import campaign_text as ct
from mailward.activity.campaign_index import IndexedMessage, Indicators
from mailward.activity.campaign_text import empty_hashvalues, is_blank

INDICATOR_CANDIDATES = 50
CONTENT_CANDIDATES = 200
_CLUSTER = attrgetter("cluster")


class NewestLSH:
    """LSH over MinHash signatures; each bucket keeps its newest ``keep`` (up to twice that)."""

    def __init__(self, threshold: float, num_perm: int, keep: int,
                 time_of: Callable[[str], float]) -> None:
        self.keep = keep
        self.time_of = time_of
        # datasketch's choice of bands and rows for this threshold, from an empty index of its
        probe = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.ranges: list[tuple[int, int]] = list(probe.hashranges)
        self.tables: list[dict[bytes, dict[str, None]]] = [{} for _ in self.ranges]
        self.keys: dict[str, list[bytes]] = {}
        #: The last signature's bands (a signature is not changed once made).
        self._last: tuple[LeanMinHash, list[bytes]] | None = None

    def _bands(self, sig: LeanMinHash) -> list[bytes]:
        last = self._last
        if last is not None and last[0] is sig:  # a query, then the insert of the same one
            return last[1]
        values = sig.hashvalues
        bands = [bytes(values[start:end].byteswap().data) for start, end in self.ranges]
        self._last = (sig, bands)
        return bands

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def insert(self, key: str, sig: LeanMinHash) -> None:
        if key in self.keys:
            raise ValueError(f"{key} is in the index already")
        bands = self._bands(sig)
        self.keys[key] = bands
        for band, table in zip(bands, self.tables, strict=True):
            bucket = table.setdefault(band, {})
            bucket[key] = None
            if len(bucket) > 2 * self.keep:
                table[band] = self._newest_of(bucket)

    def _newest_of(self, bucket: dict[str, None]) -> dict[str, None]:
        kept = sorted(bucket, key=self.time_of, reverse=True)[:self.keep]
        return dict.fromkeys(sorted(kept, key=self.time_of))

    def remove(self, key: str) -> None:
        bands = self.keys.pop(key, None)
        if bands is None:
            raise ValueError(f"{key} is not in the index")
        for band, table in zip(bands, self.tables, strict=True):
            bucket = table.get(band)
            if bucket is None:
                continue
            bucket.pop(key, None)  # gone already when the bucket dropped it as old
            if not bucket:
                del table[band]

    def query(self, sig: LeanMinHash) -> list[str]:
        """The newest ``keep`` members sharing a bucket with ``sig`` (all when fewer)."""
        found: dict[str, None] = {}
        for band, table in zip(self._bands(sig), self.tables, strict=True):
            bucket = table.get(band)
            if bucket:
                found.update(bucket)
        return self.newest(found)

    def newest(self, keys: Iterable[str]) -> list[str]:
        keys = list(keys)
        if len(keys) <= self.keep:
            return keys
        # what heapq.nlargest gives (its documented equivalent), about 3x faster here: the
        # keys come mostly in time order already
        return sorted(keys, key=self.time_of, reverse=True)[:self.keep]


class SignatureMatrix:
    """Signatures by key, kept as the rows of one array: :meth:`similarities` compares one
    signature with any of them by one gather of their rows, the same figures as
    :func:`similarities` without stacking the candidates' arrays for every message."""

    def __init__(self) -> None:
        self._values: Any = None  # rows of hash values, allocated on the first add
        self._blank: Any = np.zeros(0, dtype=bool)  # rows of an empty text's signature
        self._row: dict[str, int] = {}
        self._free: list[int] = []

    def __len__(self) -> int:
        return len(self._row)

    def add(self, key: str, sig: MinHash) -> None:
        """Keep ``key``'s signature (replacing an earlier one)."""
        values = np.asarray(sig.hashvalues)
        if self._values is None:
            self._values = np.empty((16, values.shape[0]), dtype=values.dtype)
            self._blank = np.zeros(16, dtype=bool)
        if values.shape != self._values.shape[1:]:
            raise ValueError("cannot keep MinHash signatures of different lengths together")
        wider = np.result_type(self._values.dtype, values.dtype)
        if wider != self._values.dtype:
            self._values = self._values.astype(wider)
        row = self._row.get(key)
        if row is None:
            row = self._free.pop() if self._free else len(self._row)
            if row >= self._values.shape[0]:
                grow = self._values.shape[0]
                self._values = np.concatenate([self._values, np.empty_like(self._values)])
                self._blank = np.concatenate([self._blank, np.zeros(grow, dtype=bool)])
            self._row[key] = row
        self._values[row] = values
        self._blank[row] = bool(np.array_equal(values, empty_hashvalues(values.shape[0])))

    def remove(self, key: str) -> None:
        row = self._row.pop(key, None)
        if row is not None:
            self._free.append(row)

    def similarities(self, sig: MinHash, keys: Sequence[str]) -> list[float]:
        """:func:`similarity` of ``sig`` with the signature of each of ``keys`` (kept here)."""
        if not keys:
            return []
        if is_blank(sig):
            return [0.0] * len(keys)
        result: list[float] = self._scores(sig, keys).tolist()
        return result

    def similar(self, sig: MinHash, keys: Sequence[str], threshold: float) -> list[str]:
        """Those of ``keys`` (in their order) whose :meth:`similarities` with ``sig`` is at
        least ``threshold``: the same keys, compared in one array operation."""
        if not keys:
            return []
        if is_blank(sig):
            return list(keys) if threshold <= 0.0 else []
        picked = np.flatnonzero(self._scores(sig, keys) >= threshold).tolist()
        if len(picked) == len(keys):
            return list(keys)
        return [keys[i] for i in picked]

    def _scores(self, sig: MinHash, keys: Sequence[str]) -> Any:
        """The similarities of a non-blank ``sig`` with ``keys``' signatures, as an array."""
        mine = np.asarray(sig.hashvalues)
        if mine.shape != self._values.shape[1:]:
            raise ValueError("cannot compare MinHash signatures of different lengths")
        found = itemgetter(*keys)(self._row)
        rows = np.array(found if len(keys) > 1 else (found,), dtype=np.intp)
        equal = np.count_nonzero(self._values[rows] == mine, axis=1)
        scores = equal / float(mine.shape[0])
        scores[self._blank[rows]] = 0.0
        return scores


class ReferenceIndex:
    """The in-memory clustering state of the window: LSH, indicator indexes, cluster sizes."""

    def __init__(self, similarity: float, infra_similarity: float, num_perm: int) -> None:
        self.similarity = similarity
        self.infra_similarity = infra_similarity
        self.members: dict[str, IndexedMessage] = {}
        #: The members' signatures as rows of one array (compared without stacking them).
        self.signatures = SignatureMatrix()
        self.received: dict[str, float] = {}  # key -> its member's ``at`` (a quick sort key)
        self.lsh = NewestLSH(similarity, num_perm, CONTENT_CANDIDATES, self.received.__getitem__)
        self.order: deque[tuple[float, str]] = deque()
        self.by_indicator: dict[str, dict[str, None]] = {}
        self.sizes: Counter[str] = Counter()
        self.alias: dict[str, str] = {}  # merged cluster -> the cluster it was merged into

    def root(self, cluster: str) -> str:
        """The cluster ``cluster`` is now part of (itself unless it was merged)."""
        seen = []
        while cluster in self.alias:
            seen.append(cluster)
            cluster = self.alias[cluster]
        for merged in seen[:-1]:  # shorten the chain for the next lookup
            self.alias[merged] = cluster
        return cluster

    def merge(self, into: str, merged: tuple[str, ...]) -> None:
        """Make the clusters ``merged`` part of ``into`` (sizes added up)."""
        for name in merged:
            cluster = self.root(name)
            if cluster == into:
                continue
            self.alias[cluster] = into
            self.sizes[into] += self.sizes.pop(cluster, 0)

    def __len__(self) -> int:
        return len(self.members)

    def _newest(self, value: str) -> list[str]:
        """The newest ``INDICATOR_CANDIDATES`` messages showing an indicator."""
        return list(islice(reversed(self.by_indicator.get(value, {})), INDICATOR_CANDIDATES))

    def match(self, sig: LeanMinHash, ind: Indicators
              ) -> tuple[str | None, str, tuple[str, ...]]:
        """The cluster a message with ``sig`` and ``ind`` joins, how (None, "new"), and the
        other clusters it matches members of too (the most matching members first)."""
        found: dict[str, str] = {}  # matching member -> how, in the order they were found
        has_text = not ct.is_blank(sig)
        if has_text:
            keys = self.lsh.query(sig)  # the newest CONTENT_CANDIDATES
            found.update(self._similar(sig, keys, self.similarity, "content"))
        for value in ind.strong:
            found.update(dict.fromkeys(filterfalse(found.__contains__, self._newest(value)),
                                       "attachment"))
        if has_text:
            for value in ind.infra:
                keys = list(filterfalse(found.__contains__, self._newest(value)))
                kind = "link" if value.startswith("link:") else "infra"
                found.update(self._similar(sig, keys, self.infra_similarity, kind))
        if not found:
            return None, "new", ()
        # the members' clusters, each label followed to its root once
        labels = list(map(_CLUSTER, map(self.members.__getitem__, found)))
        roots = {label: self.root(label) for label in dict.fromkeys(labels)}
        if len(set(roots.values())) == 1:  # one cluster (most messages): nothing to rank
            return next(iter(roots.values())), Counter(found.values()).most_common(1)[0][0], ()
        return self._ranked(found, labels, roots)

    def _similar(self, sig: LeanMinHash, keys: list[str], threshold: float,
                 kind: str) -> dict[str, str]:
        """Those of ``keys`` whose signature is at least ``threshold`` similar to ``sig``."""
        if not keys:
            return {}
        return dict.fromkeys(self.signatures.similar(sig, keys, threshold), kind)

    def _ranked(self, found: dict[str, str], labels: list[str], roots: dict[str, str]
                ) -> tuple[str, str, tuple[str, ...]]:
        """The clusters of the ``found`` members ranked: the most matching members first,
        then the one seen first; (the first, how it matched, the others)."""
        votes: Counter[str] = Counter()
        first: dict[str, float] = {}
        clusters: dict[str, str] = {}
        for key, label in zip(found, labels, strict=True):
            at = self.members[key].at
            clusters[key] = cid = roots[label]
            votes[cid] += 1
            first[cid] = min(first.get(cid, at), at)
        ranked = sorted(votes, key=lambda c: (-votes[c], first[c]))
        how = Counter(v for k, v in found.items() if clusters[k] == ranked[0])
        return ranked[0], how.most_common(1)[0][0], tuple(ranked[1:])

    def add(self, key: str, member: IndexedMessage) -> None:
        if key in self.members:
            return
        self.signatures.add(key, member.sig)  # first: it refuses a signature of another size
        self.members[key] = member
        self.received[key] = member.at
        self.order.append((member.at, key))
        if not ct.is_blank(member.sig):
            self.lsh.insert(key, member.sig)
        for value in member.indicators.all:
            self.by_indicator.setdefault(value, {})[key] = None
        self.sizes[self.root(member.cluster)] += 1

    def expire(self, before: float) -> None:
        """Forget messages older than ``before`` (the window moves on)."""
        while self.order and self.order[0][0] < before:
            _, key = self.order.popleft()
            member = self.members.pop(key, None)
            if member is None:
                continue
            del self.received[key]
            self.signatures.remove(key)
            if not ct.is_blank(member.sig):
                self.lsh.remove(key)
            for value in member.indicators.all:
                keys = self.by_indicator.get(value)
                if keys is not None:
                    keys.pop(key, None)
                    if not keys:
                        del self.by_indicator[value]
            cluster = self.root(member.cluster)
            self.sizes[cluster] -= 1
            if self.sizes[cluster] <= 0:
                del self.sizes[cluster]
