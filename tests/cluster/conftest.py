"""Fixtures for the cluster tests: the real Redis on 127.0.0.1:6379 under a random key prefix
per test (its keys removed after), skipped with a reason when Redis does not answer."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis

from mailward.cluster.redis import RedisLink

REDIS_URL = "redis://127.0.0.1:6379/0"


def _answers() -> bool:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture
def prefix() -> Iterator[str]:
    """A fresh key prefix; every key under it is deleted after the test."""
    if not _answers():
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    value = f"mwtest-{secrets.token_hex(6)}:"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=f"{value}*"):
            client.delete(key)
    finally:
        client.close()


def make_link(prefix: str, node: str = "node-a", lease: float = 1.0) -> RedisLink:
    return RedisLink(REDIS_URL, prefix, node, lease, 0.2)
