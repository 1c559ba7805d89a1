"""Token buckets: the interface, and the in-memory implementation for a single node.

A bucket holds at most ``burst`` tokens and gains ``per_second`` tokens each second; a check
takes ``cost`` tokens from each of several buckets at once, or from none when one of them is
short (a refused MAIL spends neither the client's nor the sender's token). An absent bucket is
a full one, so a bucket that has refilled is forgotten (in Redis its key expires): idle clients
cost nothing. :mod:`mailward.ratelimit.redis_buckets` does the same in Redis for every node.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

#: Seconds between two sweeps of the refilled buckets out of memory.
SWEEP_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket to take from: its key and its shape."""

    key: str
    per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class Take:
    """The outcome of one check: ``denied`` is the index of the first bucket that was short
    (None when the tokens were taken), ``retry_after`` the seconds until it has enough."""

    denied: int | None = None
    retry_after: float = 0.0

    @property
    def allowed(self) -> bool:
        return self.denied is None


class BucketStore(Protocol):
    """Where buckets live: memory (one node) or Redis (every node)."""

    async def take(self, buckets: Sequence[Bucket], cost: float = 1.0) -> Take:
        """Take ``cost`` tokens from every bucket, or from none if one has fewer."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def refill(tokens: float, since: float, now: float, bucket: Bucket) -> float:
    """Tokens in ``bucket`` at ``now`` when it held ``tokens`` at ``since``."""
    if now <= since:  # a clock that went back adds nothing
        return tokens
    return min(float(bucket.burst), tokens + (now - since) * bucket.per_second)


def seconds_to_full(tokens: float, bucket: Bucket) -> float:
    """Seconds until a bucket holding ``tokens`` is full again (and may be forgotten)."""
    return max(0.0, (bucket.burst - tokens) / bucket.per_second)


class MemoryBuckets:
    """Buckets in this process's memory: the single-node store when no Redis is configured.

    Every check runs on the event loop without awaiting, so it is atomic there too."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        #: key -> (tokens, when, when it is full again)
        self._state: dict[str, tuple[float, float, float]] = {}
        self._swept = clock()

    def __len__(self) -> int:
        return len(self._state)

    def tokens(self, bucket: Bucket) -> float:
        """Tokens in ``bucket`` now (for tests and diagnostics)."""
        now = self._clock()
        held = self._state.get(bucket.key)
        return float(bucket.burst) if held is None else refill(held[0], held[1], now, bucket)

    async def take(self, buckets: Sequence[Bucket], cost: float = 1.0) -> Take:
        now = self._clock()
        self._sweep(now)
        levels = [self._level(b, now) for b in buckets]
        for i, (bucket, tokens) in enumerate(zip(buckets, levels, strict=True)):
            if tokens < cost:
                return Take(denied=i, retry_after=(cost - tokens) / bucket.per_second)
        for bucket, tokens in zip(buckets, levels, strict=True):
            left = tokens - cost
            self._state[bucket.key] = (left, now, now + seconds_to_full(left, bucket))
        return Take()

    def _level(self, bucket: Bucket, now: float) -> float:
        held = self._state.get(bucket.key)
        if held is None:
            return float(bucket.burst)
        return refill(held[0], held[1], now, bucket)

    def _sweep(self, now: float) -> None:
        """Forget buckets that are full again (as their Redis keys would expire)."""
        if now - self._swept < SWEEP_SECONDS:
            return
        self._swept = now
        for key in [k for k, (_t, _w, full_at) in self._state.items() if full_at <= now]:
            del self._state[key]

    async def aclose(self) -> None:
        self._state.clear()


def retry_seconds(take: Take) -> int:
    """Whole seconds to tell a refused client to wait (at least one)."""
    return max(1, math.ceil(take.retry_after))
