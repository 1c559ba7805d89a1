"""Release a lockdown's held backlog from any node of a cluster, exactly once.

Per held message, under the node's spool lock: (1) put it in this node's spool, still held and
flagged ``release_of``; (2) claim its row in the store (one node wins each row, ever); (3) the
processor clears the hold and re-scans and delivers it like any spooled message. A node killed
at any step loses nothing and repeats nothing: after (1) without (2) the local copy is dropped
at its restart (:meth:`ClusterRelease.tidy`; the row is still held, another node releases it);
after (2) the local copy is its own to deliver, at once or when it restarts. The release lock
(:mod:`mailward.cluster.lock`) makes one node do the work; if it dies, its lease expires and
another node takes the open order over from the rows still held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator

import redis

from mailward.cluster.held import HeldStore, ReleaseOrder
from mailward.cluster.lock import Lease, LeasedLock, holding
from mailward.cluster.notify import RELEASE, publish
from mailward.cluster.redis import RedisLink
from mailward.config.settings import LockdownSettings
from mailward.response.release import ReleaseReport, unhold
from mailward.spool.processor import Processor
from mailward.spool.queue import Spool, SpoolEntry, SpoolState

log = logging.getLogger(__name__)
LOCK = "lockdown-release"
Progress = Callable[[int], None]


class ClusterRelease:
    """This node's part in holding mail in the shared store and releasing it."""

    def __init__(
        self, held: HeldStore, spool: Spool, processor: Processor, settings: LockdownSettings,
        link: RedisLink | None, node: str,
    ) -> None:
        self.held, self.spool, self.processor = held, spool, processor
        self.settings, self.link, self.node = settings, link, node

    # -- holding ---------------------------------------------------------------------------
    def park(self, entry: SpoolEntry) -> None:
        """Move a message the lockdown holds from this node's spool to the shared store
        (the caller holds the entry's spool lock)."""
        self.held.park(entry, self.node)
        self.spool.finish(entry.id)
        log.info("parked held %s in the shared store", entry.id)

    def tidy(self) -> int:
        """Park what is still held in this node's spool; settle a release interrupted by a
        crash (keep what this node claimed, drop what it did not). Returns entries touched."""
        touched = 0
        for entry_id in self.spool.held():
            with self.spool.locked(entry_id) as mine:
                if not mine or not self.spool.state(entry_id).held:
                    continue
                entry = self.spool.load(entry_id)
                touched += 1
                if "release_of" not in entry.flags:
                    self.park(entry)
                    continue
                found = self.held.entry(entry_id)
                if found is not None and found[1] == "released" and found[2] == self.node:
                    state = self.spool.state(entry_id)
                    unhold(state)
                    self.spool.save_state(entry_id, state)  # due: the workers deliver it
                else:
                    self.spool.finish(entry_id)
        return touched

    # -- releasing -------------------------------------------------------------------------
    async def release_one(self, entry_id: str, order_id: int) -> str | None:
        """Release one held row through this node's spool; None when it was not ours."""
        found = await asyncio.to_thread(self.held.entry, entry_id)
        if found is None or found[1] != "held":
            return None
        entry = found[0]
        flags = {**entry.flags, "release_of": order_id}
        await asyncio.to_thread(self.spool.put, entry.envelope, entry.raw, flags=flags,
                                entry_id=entry_id, state=SpoolState(held=True))
        if not await asyncio.to_thread(self._claim, entry_id, order_id):
            return None
        outcome = await self.processor.process(entry_id, prepare=unhold)
        return outcome.action if outcome is not None else "busy"

    def _claim(self, entry_id: str, order_id: int) -> bool:
        with self.spool.locked(entry_id) as mine:
            if not mine:
                return False
            if self.held.claim(entry_id, self.node, order_id):
                return True
            self.spool.finish(entry_id)  # another node released it
            return False

    async def run_order(
        self, order: ReleaseOrder, lease: Lease | None, outcomes: Counter[str],
        progress: Progress = lambda n: None,
    ) -> bool:
        """Release what the order covers, in paced batches; True when it is finished (False:
        the lease was lost, another node goes on)."""
        batch = self.settings.release_batch_size
        while True:
            ids = await asyncio.to_thread(self.held.pending, order.requested_at, batch)
            if not ids:
                await asyncio.to_thread(self.held.finish_order, order.id, self.node)
                return True
            began = time.monotonic()
            for entry_id in ids:
                if lease is not None and lease.lost.is_set():
                    return False
                action = await self.release_one(entry_id, order.id)
                if action is not None:
                    outcomes[action] += 1
                    progress(sum(outcomes.values()))
            pause = len(ids) / self.settings.release_rate - (time.monotonic() - began)
            if pause > 0:
                await asyncio.sleep(pause)

    async def run_open_orders(
        self, outcomes: Counter[str] | None = None, progress: Progress = lambda n: None,
    ) -> Counter[str]:
        """Work on open release orders while this node holds the release lock (or, with no
        Redis, without one: the per-row claim alone keeps each release single)."""
        outcomes = Counter() if outcomes is None else outcomes
        while (order := await asyncio.to_thread(self.held.open_order)) is not None:
            with self._lock() as lease:
                if lease is False:
                    return outcomes  # another node holds it
                if not await self.run_order(order, lease if isinstance(lease, Lease) else None,
                                            outcomes, progress):
                    return outcomes
        return outcomes

    @contextlib.contextmanager
    def _lock(self) -> Iterator[Lease | bool | None]:
        """The release lease; False when another node holds it; None when Redis is away."""
        if self.link is None:
            yield None
            return
        client = self.link.client()
        try:
            lock = LeasedLock(client, self.link, LOCK)
            try:
                got = lock.acquire()
            except redis.RedisError as exc:
                log.warning("release lock unavailable (%s); releasing without it", exc)
                yield None
                return
            if not got:
                yield False
                return
            with holding(lock) as lease:
                yield lease
        finally:
            client.close()

    async def release_everything(
        self, actor: str, reason: str, *, wait: bool = True, poll: float = 0.5,
        progress: Progress = lambda n: None,
    ) -> tuple[int, ReleaseReport | None]:
        """File a release order (announced to the nodes); with ``wait``, take part until it
        is finished. (order id, what this process released)."""
        held = await asyncio.to_thread(self.held.count)
        order_id = await asyncio.to_thread(self.held.add_order, actor, reason, self.node)
        if self.link is not None:
            await asyncio.to_thread(publish, self.link, RELEASE, {"order": order_id})
        if not wait:
            return order_id, None
        outcomes: Counter[str] = Counter()
        while True:
            await self.run_open_orders(outcomes, progress)
            order = await asyncio.to_thread(self.held.order, order_id)
            if order is None or order.done_at is not None:
                return order_id, ReleaseReport(held, outcomes)
            await asyncio.sleep(poll)
