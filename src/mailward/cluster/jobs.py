"""Batch jobs on one node at a time: the zero-hour purge and claw-backs (the lockdown release
has its own loop, :mod:`mailward.cluster.release`).

:func:`exclusive` runs a block while this node holds the job's leased lock, waiting for the
lock while another node holds it (a node that died holds it for one lease at most). Claw-backs
are idempotent per copy (a copy already moved is "not found"), so a job taken over after a
death repeats nothing. :func:`once` also skips a job that another node already finished (the
same zero-hour purge, seen by every node when the feeds or rules change). Without a cluster,
or with Redis down, the block simply runs: Redis never stops the gateway's own work.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import redis

from mailward.cluster.lock import Lease, LeasedLock, holding
from mailward.cluster.redis import RedisLink
from mailward.config.settings import Settings

log = logging.getLogger(__name__)
#: A finished job's mark lasts this long (nodes see the same change within seconds).
DONE_TTL_SECONDS = 600


class JobBusy(RuntimeError):
    """Another node held the job's lock for longer than this node would wait."""


def _acquire(lock: LeasedLock, wait: float, done_key: str | None) -> bool | None:
    """True: ours; None: another node finished it meanwhile; JobBusy past ``wait``."""
    deadline = time.monotonic() + wait
    while True:
        if done_key is not None and lock.client.exists(done_key):
            return None
        if lock.acquire():
            return True
        if time.monotonic() >= deadline:
            raise JobBusy(f"{lock.key} is held by {lock.holder()}")
        time.sleep(min(0.5, lock.lease / 6))


@contextlib.contextmanager
def exclusive(
    settings: Settings, job: str, *, wait: float | None = None, done_key: str | None = None,
) -> Iterator[Lease | bool | None]:
    """Hold ``job``'s lock for the block (yields the Lease; None when there is no cluster or
    Redis is away; False when ``done_key`` shows another node finished it). ``wait``: how long
    to wait for the lock (default: ten leases)."""
    link = RedisLink.from_settings(settings)
    if link is None:
        yield None
        return
    client = link.client()
    try:
        lock = LeasedLock(client, link, job)
        key = link.key("done", job, done_key) if done_key else None
        try:
            got = _acquire(lock, link.lease * 10 if wait is None else wait, key)
        except redis.RedisError as exc:
            log.warning("cluster lock %s unavailable (%s); running the job here", job, exc)
            yield None
            return
        if got is None:
            yield False
            return
        with holding(lock) as lease:
            yield lease
            if key is not None:
                with contextlib.suppress(redis.RedisError):
                    client.set(key, link.node, ex=DONE_TTL_SECONDS)
    finally:
        client.close()


@contextlib.asynccontextmanager
async def once(settings: Settings, job: str, key: str) -> AsyncIterator[bool]:
    """Yield True when this node is to run the job now (it holds the lock and no node has
    finished the same ``key``); False: another node did it."""
    cm = exclusive(settings, job, done_key=key)
    mine = await asyncio.to_thread(cm.__enter__)
    try:
        yield mine is not False
    except BaseException as exc:
        if not await asyncio.to_thread(cm.__exit__, type(exc), exc, exc.__traceback__):
            raise
    else:
        await asyncio.to_thread(cm.__exit__, None, None, None)


def purge_key(settings: Settings, why: str, *, files: tuple[Path, ...] = ()) -> str:
    """What makes two nodes' zero-hour purges the same one: why, the rules in force (the
    settings less what differs per node) and the content of ``files`` (feeds, YARA rules)."""
    node_specific = {"data_dir", "cluster", "smtp", "console", "milter", "store"}
    digest = hashlib.sha256(why.encode())
    digest.update(json.dumps(settings.model_dump(mode="json", exclude=node_specific),
                             sort_keys=True).encode())
    for path in files:
        with contextlib.suppress(OSError):
            for item in sorted(path.rglob("*")) if path.is_dir() else [path]:
                if item.is_file():
                    digest.update(item.read_bytes())
    return digest.hexdigest()[:32]
