"""Spool workers: take due entries from the spool and run the Processor on them.

New messages are handed over at once by ``nudge``; a periodic sweep picks up everything else
that is due (retries, entries left by a crash or queued by the CLI). An id is never worked on
twice at the same time in this process, and the spool's file lock covers other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mailward.spool.processor import Processor
from mailward.spool.queue import Spool

log = logging.getLogger(__name__)


class SpoolWorkers:
    def __init__(
        self, processor: Processor, spool: Spool, count: int, poll_interval: float = 1.0
    ) -> None:
        self.processor = processor
        self.spool = spool
        self.count = count
        self.poll_interval = poll_interval
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queued: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def nudge(self, entry_id: str) -> None:
        if entry_id not in self.queued:
            self.queued.add(entry_id)
            self.queue.put_nowait(entry_id)

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._sweep(), name="spool-sweep")]
        self._tasks += [
            asyncio.create_task(self._work(), name=f"spool-worker-{i}") for i in range(self.count)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _sweep(self) -> None:
        while True:
            try:
                # what the workers hold already is not looked at again: under load the
                # queue is long, and each look reads a state file
                queued = frozenset(self.queued)
                for entry_id in await asyncio.to_thread(self.spool.due, None, queued):
                    self.nudge(entry_id)
            except Exception:
                log.exception("spool sweep failed")
            await asyncio.sleep(self.poll_interval)

    async def _work(self) -> None:
        while True:
            entry_id = await self.queue.get()
            try:
                await self.processor.process(entry_id)
            except Exception:
                # The entry stays in the spool and is retried at the next sweep.
                log.exception("processing %s failed; it stays in the spool", entry_id)
            finally:
                self.queued.discard(entry_id)
                self.queue.task_done()
