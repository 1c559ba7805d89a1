"""The token bucket, in memory and in Redis: the same behaviour through the same interface
(burst, refill, separate keys, all-or-nothing across buckets, forgetting idle buckets)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
import redis

from mailward.ratelimit.buckets import Bucket, BucketStore, MemoryBuckets, retry_seconds
from mailward.ratelimit.redis_buckets import RedisBuckets
from mailward.ratelimit.redis_conn import open_redis

REDIS_URL = "redis://127.0.0.1:6379/0"  # as the redis_prefix fixture (conftest.py)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def with_store(kind: str, prefix: str,
               body: Callable[[BucketStore, str], Awaitable[None]]) -> None:
    """Run ``body(store, prefix)`` on a memory store or on the local Redis."""

    async def main() -> None:
        store: BucketStore = (MemoryBuckets() if kind == "memory"
                              else RedisBuckets(open_redis(REDIS_URL, 2.0)))
        try:
            await body(store, prefix)
        finally:
            await store.aclose()

    asyncio.run(main())


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_prefix")
    return str(request.param)


@pytest.fixture
def prefix(store_kind: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("redis_prefix")) if store_kind == "redis" else "mem:"


def test_burst_then_refused_with_the_time_to_wait(store_kind: str, prefix: str) -> None:
    async def body(store: BucketStore, p: str) -> None:
        b = Bucket(p + "a", per_second=1 / 60, burst=3)  # one a minute
        assert [(await store.take([b])).allowed for _ in range(3)] == [True, True, True]
        refused = await store.take([b])
        assert not refused.allowed and refused.denied == 0
        assert 55 < refused.retry_after <= 60
        assert retry_seconds(refused) in range(56, 61)
        assert not (await store.take([b])).allowed  # a refusal takes nothing and gives nothing

    with_store(store_kind, prefix, body)


def test_keys_are_separate(store_kind: str, prefix: str) -> None:
    async def body(store: BucketStore, p: str) -> None:
        a, b = Bucket(p + "a", 1 / 60, 1), Bucket(p + "b", 1 / 60, 1)
        assert (await store.take([a])).allowed
        assert not (await store.take([a])).allowed
        assert (await store.take([b])).allowed  # b has its own tokens

    with_store(store_kind, prefix, body)


def test_several_buckets_take_all_or_nothing(store_kind: str, prefix: str) -> None:
    """A check short in one bucket spends nothing from the others (a refused MAIL costs the
    client nothing in its sender-independent bucket)."""

    async def body(store: BucketStore, p: str) -> None:
        client, sender = Bucket(p + "client", 1 / 60, 2), Bucket(p + "sender", 1 / 60, 1)
        other = Bucket(p + "other-sender", 1 / 60, 5)
        assert (await store.take([client, sender])).allowed
        refused = await store.take([client, sender])
        assert refused.denied == 1  # the sender's bucket is the short one
        assert (await store.take([client, other])).allowed  # the client still had one token
        assert (await store.take([client, other])).denied == 0

    with_store(store_kind, prefix, body)


def test_memory_bucket_refills_at_its_rate_up_to_the_burst() -> None:
    clock = Clock()
    store = MemoryBuckets(clock)
    b = Bucket("k", per_second=2.0, burst=4)

    async def main() -> None:
        for _ in range(4):
            assert (await store.take([b])).allowed
        assert not (await store.take([b])).allowed
        clock.now += 0.5  # one token back
        assert (await store.take([b])).allowed
        assert not (await store.take([b])).allowed
        clock.now += 3600  # long idle: full, never more than the burst
        assert store.tokens(b) == 4
        assert [(await store.take([b])).allowed for _ in range(5)] == [True] * 4 + [False]

    asyncio.run(main())


def test_memory_buckets_forget_buckets_that_refilled() -> None:
    clock = Clock()
    store = MemoryBuckets(clock)
    slow, fast = Bucket("slow", 1 / 3600, 2), Bucket("fast", 10.0, 2)

    async def main() -> None:
        await store.take([slow])
        await store.take([fast])
        assert len(store) == 2
        clock.now += 60  # fast is full again after 0.1 s, slow after an hour
        await store.take([Bucket("third", 10.0, 2)])
        assert len(store) == 2  # fast forgotten, slow and third kept
        assert store.tokens(slow) < 2

    asyncio.run(main())


def _redis() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL, socket_timeout=2)


def test_redis_bucket_refills_from_its_stored_time_up_to_the_burst(redis_prefix: str) -> None:
    """Refill runs on the Redis server's clock: moving the stored time back by a minute is a
    minute passing."""
    key = redis_prefix + "refill"
    b = Bucket(key, per_second=1 / 60, burst=3)

    async def body(store: BucketStore, _p: str) -> None:
        for _ in range(3):
            assert (await store.take([b])).allowed
        assert not (await store.take([b])).allowed
        sync = _redis()
        ts = float(sync.hget(key, "ts") or 0)
        sync.hset(key, "ts", f"{ts - 61:.6f}")  # a minute and a second ago: one token back
        assert (await store.take([b])).allowed
        assert not (await store.take([b])).allowed
        sync.hset(key, "ts", f"{ts - 86400:.6f}")  # a day ago: full, but only the burst
        assert [(await store.take([b])).allowed for _ in range(4)] == [True] * 3 + [False]
        sync.close()

    with_store("redis", redis_prefix, body)


def test_redis_keys_expire_when_the_bucket_would_be_full(redis_prefix: str) -> None:
    slow, fast = Bucket(redis_prefix + "slow", 1 / 60, 10), Bucket(redis_prefix + "fast", 20, 2)

    async def body(store: BucketStore, _p: str) -> None:
        await store.take([slow])
        await store.take([fast])
        sync = _redis()
        # one token short: full again in 60 s (slow) and 50 ms (fast), plus a second of margin
        assert 60_000 < sync.pttl(slow.key) <= 61_000
        assert 0 < sync.pttl(fast.key) <= 1_050
        deadline = time.monotonic() + 10
        while sync.exists(fast.key) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not sync.exists(fast.key)  # idle buckets vanish
        assert sync.exists(slow.key)
        sync.close()

    with_store("redis", redis_prefix, body)


def test_redis_store_calls_the_script_by_its_sha(redis_prefix: str) -> None:
    """EVALSHA: the script is kept in Redis under its SHA1 and called by it."""
    b = Bucket(redis_prefix + "sha", 1.0, 5)

    async def body(store: BucketStore, _p: str) -> None:
        assert isinstance(store, RedisBuckets)
        assert (await store.take([b])).allowed
        sha = store._script.sha
        assert (await store.client.script_exists(sha)) == [True]
        assert (await store.take([b])).allowed

    with_store("redis", redis_prefix, body)
