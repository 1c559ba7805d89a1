"""The Redis connection the rate limiter uses: short timeouts and no retries, so a Redis that
is down or unreachable costs a check at most ``timeout`` seconds and the check fails open."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


def open_redis(url: str, timeout: float) -> Redis:
    """An asyncio client for ``url`` (redis://, rediss:// or unix://); it connects on first use,
    on the event loop that uses it first."""
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=30,
    )
