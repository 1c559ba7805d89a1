"""The Redis connection of a cluster node: clients for ``[cluster] redis_url``, the key prefix
and this node's id. Redis carries nothing that mail needs to flow: callers treat its errors as
"no cluster help right now", never as a reason to refuse or lose mail."""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass

import redis
import redis.asyncio

from mailward.config.settings import Settings

#: Seconds to connect or to wait for a reply: a Redis that is down must not stall a node.
TIMEOUT = 2.0
RedisError = redis.RedisError


def node_id(settings: Settings) -> str:
    """``[cluster] node_id``, else ``<hostname>-<8 hex of the data_dir's absolute path>``:
    stable across restarts, distinct for two nodes on one host."""
    if settings.cluster.node_id:
        return settings.cluster.node_id
    where = str(settings.data_dir.resolve())
    digest = hashlib.sha256(where.encode()).hexdigest()[:8]
    return f"{socket.gethostname()}-{digest}"


@dataclass(frozen=True, slots=True)
class RedisLink:
    """Where this node's cluster state lives in Redis, and who this node is."""

    url: str
    prefix: str
    node: str
    lease: float
    poll: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisLink | None:
        """None when ``[cluster] redis_url`` is empty (one node, no Redis)."""
        c = settings.cluster
        if not c.redis_url:
            return None
        return cls(c.redis_url, c.key_prefix, node_id(settings), c.lock_lease_seconds,
                   c.poll_seconds)

    def key(self, *parts: str) -> str:
        """A key or channel name under this cluster's prefix."""
        return self.prefix + ":".join(parts)

    def client(self) -> redis.Redis:
        """A blocking client (threads, the CLI); replies decoded as str."""
        return redis.Redis.from_url(self.url, socket_timeout=TIMEOUT,
                                    socket_connect_timeout=TIMEOUT, decode_responses=True)

    def async_client(self) -> redis.asyncio.Redis:
        """An asyncio client (the gateway's event loop); replies decoded as str."""
        return redis.asyncio.Redis.from_url(self.url, socket_connect_timeout=TIMEOUT,
                                            decode_responses=True)
