"""Jobs on their way between the event loop and the scan-process slots, and how they end.

A :class:`PendingJob` is queued -> running -> done, or abandoned by its caller; its result goes
back to the caller's event loop with ``loop.call_soon_threadsafe``. Abandoning a running job
kills the scan process that runs it, as cancelling an inline scan stops that scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass
from typing import Protocol

from mailward.engine.isolation._child import Job
from mailward.engine.pipeline import ScanOutcome


class Killable(Protocol):
    """The scan process that runs a job (all a job needs of it is to kill it)."""

    def kill(self) -> None: ...


@dataclass(frozen=True, slots=True)
class JobResult:
    """How a job ended: an outcome, or why its scan was stopped, or why none could run it."""

    outcome: ScanOutcome | None = None
    stopped: str | None = None
    unavailable: str | None = None
    seconds: float = 0.0


class PendingJob:
    """A job on its way through the pool: queued -> running -> done, or abandoned."""

    def __init__(
        self, job: Job, loop: asyncio.AbstractEventLoop, future: asyncio.Future[JobResult]
    ) -> None:
        self.job = job
        self._loop = loop
        self._future = future
        self._lock = threading.Lock()
        self._state = "queued"
        self._handle: Killable | None = None
        self.retried = False

    def claim(self, handle: Killable) -> bool:
        with self._lock:
            if self._state != "queued":
                return False
            self._state, self._handle = "running", handle
            return True

    def unclaim(self) -> bool:
        """Back to queued (its process went away before reading it); False when abandoned."""
        with self._lock:
            if self._state != "running":
                return False
            self._state, self._handle = "queued", None
            return True

    def retry(self) -> bool:
        """Back to queued for one more try after its process died; False after that."""
        if self.retried or self.job_abandoned():
            return False
        self.retried = True
        return self.unclaim()

    def job_abandoned(self) -> bool:
        with self._lock:
            return self._state == "abandoned"

    def give_up_if_queued(self) -> bool:
        """Abandon the job when no process has taken it yet."""
        with self._lock:
            if self._state != "queued":
                return False
            self._state = "abandoned"
            return True

    def abandon(self) -> None:
        """The caller no longer wants the result: a process running it is killed."""
        with self._lock:
            handle = self._handle if self._state == "running" else None
            if self._state != "done":
                self._state = "abandoned"
        if handle is not None:
            handle.kill()

    def finish(self, result: JobResult) -> None:
        with self._lock:
            if self._state in ("done", "abandoned"):
                return
            self._state = "done"
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(_resolve, self._future, result)


def _resolve(future: asyncio.Future[JobResult], result: JobResult) -> None:
    if not future.done():
        future.set_result(result)
