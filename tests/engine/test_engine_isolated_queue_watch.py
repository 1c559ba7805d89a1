"""QueueWatch: one timer gives up the jobs no scan process took within the queue limit."""

from __future__ import annotations

import asyncio

from mailward.engine.isolation._child import Job
from mailward.engine.isolation._engine import QUEUE_CHECK, QueueWatch
from mailward.engine.isolation._jobs import JobResult, PendingJob
from mailward.response.lockdown import Level


class Process:
    def kill(self) -> None:
        pass


def _job(loop: asyncio.AbstractEventLoop) -> tuple[PendingJob, asyncio.Future[JobResult]]:
    future: asyncio.Future[JobResult] = loop.create_future()
    return PendingJob(Job(b"x", None, Level.NORMAL), loop, future), future


def test_a_job_still_queued_past_the_limit_becomes_unavailable() -> None:
    async def go() -> None:
        loop = asyncio.get_running_loop()
        watch = QueueWatch(loop, lambda: 0.0)
        queued, queued_future = _job(loop)
        running, running_future = _job(loop)
        assert running.claim(Process())  # a scan process took it: it is not given up
        watch.add(queued, queued_future)
        watch.add(running, running_future)
        result = await asyncio.wait_for(queued_future, QUEUE_CHECK * 4)
        assert result.unavailable is not None and "no scan process" in result.unavailable
        assert queued.job_abandoned()
        await asyncio.sleep(QUEUE_CHECK * 1.5)
        assert not running_future.done()
        running.finish(JobResult(stopped="done"))
        assert (await running_future).stopped == "done"

    asyncio.run(go())


def test_the_timer_stops_once_every_job_is_answered() -> None:
    async def go() -> None:
        loop = asyncio.get_running_loop()
        watch = QueueWatch(loop, lambda: 3600.0)
        pending, future = _job(loop)
        watch.add(pending, future)
        assert watch._timer is not None
        pending.finish(JobResult(stopped="done"))
        await future
        await asyncio.sleep(QUEUE_CHECK * 1.5)
        assert watch._timer is None and not watch._jobs

    asyncio.run(go())


def test_a_job_queued_again_after_its_process_died_is_still_watched() -> None:
    async def go() -> None:
        loop = asyncio.get_running_loop()
        watch = QueueWatch(loop, lambda: 0.0)
        pending, future = _job(loop)
        assert pending.claim(Process())
        watch.add(pending, future)
        await asyncio.sleep(QUEUE_CHECK * 1.5)  # running: left alone
        assert not future.done()
        assert pending.retry()  # its process died: queued again
        result = await asyncio.wait_for(future, QUEUE_CHECK * 4)
        assert result.unavailable is not None

    asyncio.run(go())
