"""MinHash LSH whose buckets keep only their newest members: a query costs the same whatever
the size of the campaign it hits.

The campaign index compares a message with the newest ``keep`` of the LSH's candidates only
(:data:`mailward.activity.campaign_index.CONTENT_CANDIDATES`). With datasketch's
:class:`~datasketch.MinHashLSH` a query still gathered every member of a big campaign (all of
them share its buckets) before the newest were picked: the cost of a message grew with its
campaign. Here each bucket drops its oldest members once it holds ``2 * keep``, keeping the
newest ``keep``, and a query picks the newest ``keep`` of what its buckets hold.

That gives the same answer as picking the newest ``keep`` of all candidates, as long as members
leave the window oldest first (they do: the window expires by receive time): every member of
a bucket a query hits is a candidate, so a candidate among the newest ``keep`` of all of them has
fewer than ``keep`` newer members in each of its buckets, and no bucket dropped it. ("Newest" is
by the members' receive times, ``time_of``; equal times may be picked in either order, as
before.) Bands and rows are datasketch's for the same threshold and ``num_perm`` (its
``_optimal_param`` with equal false-positive and false-negative weights), and a band is keyed
by the same bytes, so the buckets are the ones datasketch would make.

A query whose buckets hold more than ``keep`` members (a big campaign) keeps its answer, and
the insert of the message that asked it (the next member, in the same buckets, newer than all
of them) updates the answer in place: the next member of the campaign with the same bands is
answered without gathering its buckets again. Any other change to one of those buckets (an
insert with other bands sharing one, a bucket dropping its oldest, a removal) forgets it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import eq

from datasketch import LeanMinHash, MinHashLSH

#: Answers of big buckets kept (one per campaign being received with the same bands).
ANSWERS = 8


@dataclass(slots=True)
class _Answer:
    """A query's answer kept: how many members its buckets hold, the newest ``keep``."""

    size: int
    keys: list[str]


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
        self.keys: dict[str, tuple[bytes, ...]] = {}
        #: The last signature's bands (a signature is not changed once made).
        self._last: tuple[LeanMinHash, tuple[bytes, ...]] | None = None
        #: Answers of queries whose buckets held more than ``keep`` members, by their bands.
        self._answers: dict[tuple[bytes, ...], _Answer] = {}

    def _bands(self, sig: LeanMinHash) -> tuple[bytes, ...]:
        last = self._last
        if last is not None and last[0] is sig:  # a query, then the insert of the same one
            return last[1]
        values = sig.hashvalues
        # the bytes of each band's values byte-swapped, as datasketch keys them: one swap of
        # the whole signature, then its slices
        data = values.byteswap().tobytes()
        size = values.itemsize
        bands = tuple([data[start * size:end * size] for start, end in self.ranges])
        self._last = (sig, bands)
        return bands

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def insert(self, key: str, sig: LeanMinHash) -> None:
        if key in self.keys:
            raise ValueError(f"{key} is in the index already")
        bands = self._bands(sig)
        self.keys[key] = bands
        dropped = False
        for band, table in zip(bands, self.tables, strict=True):
            bucket = table.setdefault(band, {})
            bucket[key] = None
            if len(bucket) > 2 * self.keep:
                table[band] = self._newest_of(bucket)
                dropped = True
        if self._answers:
            self._inserted(key, bands, dropped)

    def _inserted(self, key: str, bands: tuple[bytes, ...], dropped: bool) -> None:
        """Update or forget the answers kept whose buckets ``key`` went in."""
        kept = self._answers.get(bands)
        if kept is not None and not dropped and kept.size > self.keep and kept.keys and (
                self.time_of(key) > self.time_of(kept.keys[0])):
            # in every bucket of the answer, newer than all: the newest of the union now;
            # the others keep their order (the answer was sorted: more than ``keep``)
            kept.size += 1
            kept.keys = [key, *kept.keys[:self.keep - 1]]
            self._forget(bands, but=bands)
        else:
            self._forget(bands)

    def _forget(self, bands: tuple[bytes, ...], but: tuple[bytes, ...] | None = None) -> None:
        """Forget the answers kept that share a bucket with ``bands`` (but ``but``'s)."""
        for other in [b for b in self._answers if b != but and any(map(eq, b, bands))]:
            del self._answers[other]

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
        if self._answers:
            self._forget(bands)

    def query(self, sig: LeanMinHash) -> list[str]:
        """The newest ``keep`` members sharing a bucket with ``sig`` (all when fewer)."""
        bands = self._bands(sig)
        kept = self._answers.get(bands)
        if kept is not None:
            return kept.keys
        found: dict[str, None] = {}
        for band, table in zip(bands, self.tables, strict=True):
            bucket = table.get(band)
            if bucket:
                found.update(bucket)
        newest = self.newest(found)
        if len(found) > self.keep:
            if len(self._answers) >= ANSWERS:
                del self._answers[next(iter(self._answers))]
            self._answers[bands] = _Answer(len(found), newest)
        return newest

    def newest(self, keys: Iterable[str]) -> list[str]:
        keys = list(keys)
        if len(keys) <= self.keep:
            return keys
        # what heapq.nlargest gives (its documented equivalent), about 3x faster here: the
        # keys come mostly in time order already
        return sorted(keys, key=self.time_of, reverse=True)[:self.keep]
