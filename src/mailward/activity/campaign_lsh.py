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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from datasketch import LeanMinHash, MinHashLSH


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
