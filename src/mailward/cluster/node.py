"""A gateway node's cluster tasks: follow the other nodes' notices (a lockdown change drops the
cached level at once; a release order wakes this node; a campaign merge or a campaign found bad
is taken up by this node's campaign index) and, every ``[cluster] poll_seconds``, park held
mail in the shared store and work on open release orders."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from mailward.cluster.notify import CAMPAIGN, LOCKDOWN, RELEASE, follow
from mailward.cluster.redis import RedisLink
from mailward.cluster.release import ClusterRelease

log = logging.getLogger(__name__)


def on_lockdown(invalidate: Callable[[], None], link: RedisLink) -> Callable[[dict[str, Any]],
                                                                          None]:
    """Drop the cached level when any node announces a change (logged with its delay)."""

    def handle(data: dict[str, Any]) -> None:
        invalidate()
        lag = time.time() - float(data.get("changed_at") or time.time())
        log.info("lockdown notice: %s from node %s, %.3f s after the change (node %s)",
                 data.get("level"), data.get("node"), lag, link.node)

    return handle


async def run_node(
    cluster: ClusterRelease, link: RedisLink, invalidate: Callable[[], None],
    ready: asyncio.Event | None = None,
    on_campaign: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Both cluster tasks, until cancelled; ``on_campaign`` (in a thread) for campaign notices."""
    wake = asyncio.Event()
    loop = asyncio.get_running_loop()
    handlers: dict[str, Callable[[dict[str, Any]], None]] = {
        LOCKDOWN: on_lockdown(invalidate, link),
        RELEASE: lambda data: wake.set(),
    }
    if on_campaign is not None:  # off the event loop: the index's lock may be busy
        handlers[CAMPAIGN] = lambda data: _in_thread(loop, on_campaign, data)
    notices = asyncio.create_task(follow(link, handlers, ready), name="cluster-notices")
    try:
        while True:
            wake.clear()
            try:
                await asyncio.to_thread(cluster.tidy)
                await cluster.run_open_orders()
            except Exception:
                log.exception("cluster housekeeping failed; will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), link.poll)
    finally:
        notices.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await notices


def _in_thread(loop: asyncio.AbstractEventLoop, handler: Callable[[dict[str, Any]], None],
               data: dict[str, Any]) -> None:
    future = loop.run_in_executor(None, handler, data)
    future.add_done_callback(_log_failure)


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("cluster notice could not be handled", exc_info=future.exception())
