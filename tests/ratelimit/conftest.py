"""Redis for the rate-limit tests: the one on 127.0.0.1:6379, under a random key prefix that is
removed afterwards (never FLUSHDB: other users share it). Tests that need it are skipped only
when nothing answers there."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix in the local Redis; its keys are deleted after the test."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"no Redis on 127.0.0.1:6379 ({exc})")
    prefix = f"mailward-test:{secrets.token_hex(6)}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()
