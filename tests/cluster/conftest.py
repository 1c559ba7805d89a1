"""Fixtures for the cluster tests: the real Redis on 127.0.0.1:6379 under a random key prefix
per test (its keys removed after), skipped with a reason when Redis does not answer."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "store"))  # dbreset

from cluster_helpers import REDIS_URL, redis_answers


@pytest.fixture
def prefix() -> Iterator[str]:
    """A fresh key prefix; every key under it is deleted after the test."""
    if not redis_answers():
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    value = f"mwtest-{secrets.token_hex(6)}:"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=f"{value}*"):
            client.delete(key)
    finally:
        client.close()
