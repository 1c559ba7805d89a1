"""Notices over Redis pub/sub: a node (or the CLI, or the console) that changes the lockdown level
publishes it; every node subscribes and drops its cached level at once, so the whole cluster
obeys within a second. Release orders, campaign merges and campaigns found bad are announced
the same way. The store stays the truth: a lost notice only means a node waits out its 1 s
cache (or its next campaign refresh), and a Redis that is down stops no mail."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis

from mailward.cluster.redis import RedisLink

log = logging.getLogger(__name__)
LOCKDOWN = "lockdown"
RELEASE = "release"
#: Campaigns merged or found bad (:meth:`mailward.activity.campaigns.Campaigns.follow_notice`).
CAMPAIGN = "campaign"


def publish(link: RedisLink, topic: str, data: dict[str, Any]) -> bool:
    """Send ``data`` (with this node's id and the time) to every node; False if Redis is away."""
    body = json.dumps({**data, "node": link.node, "sent_at": time.time()})
    client = link.client()
    try:
        client.publish(link.key(topic), body)
        return True
    except redis.RedisError as exc:
        log.warning("could not tell the cluster about %s (%s); nodes follow within 1 s", topic,
                    exc)
        return False
    finally:
        client.close()


async def follow(
    link: RedisLink, handlers: dict[str, Callable[[dict[str, Any]], None]],
    ready: asyncio.Event | None = None, retry: float = 1.0,
) -> None:
    """Call ``handlers[topic](data)`` for each notice, until cancelled; reconnects after a
    Redis failure (``ready`` is set each time the subscription is in place)."""
    channels = {link.key(topic): handler for topic, handler in handlers.items()}
    while True:
        client = link.async_client()
        try:
            async with client.pubsub() as sub:
                await sub.subscribe(*channels)
                if ready is not None:
                    ready.set()
                async for message in sub.listen():
                    if message.get("type") != "message":
                        continue
                    _dispatch(channels, str(message["channel"]), str(message["data"]))
        except (redis.RedisError, OSError) as exc:
            log.warning("cluster notices interrupted (%s); retrying in %.0f s", exc, retry)
        finally:
            await client.aclose()
        await asyncio.sleep(retry)


def _dispatch(
    channels: dict[str, Callable[[dict[str, Any]], None]], channel: str, body: str
) -> None:
    handler = channels.get(channel)
    if handler is None:
        return
    try:
        data = json.loads(body)
        if isinstance(data, dict):
            handler(data)
    except Exception:  # a bad notice must not end the subscription
        log.exception("cluster notice on %s could not be handled", channel)
