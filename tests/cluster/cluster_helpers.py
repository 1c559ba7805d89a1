"""Helpers of the cluster tests: the real Redis on 127.0.0.1:6379 and a link under a prefix."""

from __future__ import annotations

import redis

from mailward.cluster.redis import RedisLink

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_answers() -> bool:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def make_link(prefix: str, node: str = "node-a", lease: float = 1.0) -> RedisLink:
    return RedisLink(REDIS_URL, prefix, node, lease, 0.2)
