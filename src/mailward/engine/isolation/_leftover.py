"""Why a scan process should be replaced after a scan: work a scan may have left running in it.

A detector that offloads CPU work with ``asyncio.to_thread`` (pypdf, archive expansion, DKIM)
and runs past its timeout is given up by ``asyncio.wait_for``, but its thread cannot be
cancelled: it goes on eating CPU and memory under the next scans. So a scan process is retired
(it answers, then exits, and the pool starts a fresh one from the warm fork server) when

- a detector timed out in the scan (an ``ENGINE_DETECTOR_TIMEOUT`` finding);
- work is still running in its threads after the scan: a worker of the loop's default
  executor (where ``asyncio.to_thread`` runs) is busy, or the process has more threads than
  it had when it became ready, not counting the executor's idle, pooled workers (a cache,
  not leftover work). Threads get a short grace to finish first;
- it has served ``engine.scan_recycle_after`` scans (0: never), as Amavis' ``max_requests``
  does, to bound slow leaks.

:class:`LeftoverWatch` installs a :class:`CountingExecutor` as the loop's default executor
and answers :meth:`LeftoverWatch.reason` after each scan.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from mailward.model import Finding

T = TypeVar("T")

#: Name prefix of the default executor's worker threads in a scan process.
WORKER_PREFIX = "mailward-scan-worker"
#: The finding the Engine gives for a detector that ran out of time.
TIMEOUT_SYMBOL = "ENGINE_DETECTOR_TIMEOUT"
#: Seconds leftover threads get to end after a scan before the process is retired.
GRACE = 0.3
_POLL = 0.02


class CountingExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor that knows how many of its submitted calls are still running."""

    def __init__(self) -> None:
        super().__init__(thread_name_prefix=WORKER_PREFIX)
        self._busy = 0
        self._busy_lock = threading.Lock()

    @property
    def busy(self) -> int:
        """Calls submitted and not yet ended (queued or running)."""
        with self._busy_lock:
            return self._busy

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        def counted() -> T:
            try:
                return fn(*args, **kwargs)
            finally:
                self._count(-1)

        self._count(1)
        try:
            return super().submit(counted)
        except BaseException:
            self._count(-1)
            raise

    def _count(self, step: int) -> None:
        with self._busy_lock:
            self._busy += step


def thread_count() -> int:
    """Threads of this process as the kernel sees them (native ones too)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _pooled_workers() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(WORKER_PREFIX))


class LeftoverWatch:
    """Tells, after each scan, whether the scan process should be retired, and why."""

    def __init__(self, recycle_after: int, executor: CountingExecutor | None = None) -> None:
        self.recycle_after = recycle_after
        self.executor = executor or CountingExecutor()
        self.scans = 0
        self.baseline = 0

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make the executor the loop's default one and take the thread baseline (call once
        the process is ready to scan)."""
        loop.set_default_executor(self.executor)
        self.baseline = self._others()

    def _others(self) -> int:
        """Threads besides the executor's pooled workers."""
        return thread_count() - _pooled_workers()

    def _extra(self) -> str | None:
        busy = self.executor.busy
        if busy:
            return f"{busy} detector thread(s) still running after the scan"
        extra = self._others() - self.baseline
        if extra > 0:
            return f"{extra} thread(s) more than when it started"
        return None

    async def reason(self, findings: tuple[Finding, ...] | list[Finding]) -> str | None:
        """Why the process should be retired after the scan that gave ``findings``; None to
        keep it. Counts the scan."""
        self.scans += 1
        timed_out = sorted({f.evidence[0] for f in findings
                            if f.symbol == TIMEOUT_SYMBOL and f.evidence})
        if timed_out or any(f.symbol == TIMEOUT_SYMBOL for f in findings):
            names = ", ".join(timed_out) or "a detector"
            return f"{names} timed out; its thread may still run"
        extra = await self._settled()
        if extra is not None:
            return extra
        if self.recycle_after and self.scans >= self.recycle_after:
            return f"it served {self.scans} scans (engine.scan_recycle_after)"
        return None

    async def _settled(self) -> str | None:
        """Leftover work that is still there after the grace period."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GRACE
        extra = self._extra()
        while extra is not None and loop.time() < deadline:
            await asyncio.sleep(_POLL)
            extra = self._extra()
        return extra
