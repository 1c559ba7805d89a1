"""IsolatedEngine: the Engine's ``scan`` run in scan processes guarded by a watchdog.

Like Amavis' pre-forked children or rspamd's workers: parsing and the detectors' CPU work run
in ``engine.scan_processes`` separate processes, so a message that loops, eats memory or crashes
a C library takes down one scan process and never the gateway's event loop (SMTP sessions,
deliveries) or other messages. How a scan ends:

- it finishes: its ScanOutcome as :class:`~mailward.engine.pipeline.Engine` gives it, the
  ParsedMessage carrying only what the gateway reads of it (``_child.for_gateway``: no header
  list, HTML or attachment contents; the message bytes are put back here);
- it runs past ``engine.scan_hard_timeout``, or its process dies (crash, out of memory, killed):
  the process is replaced and the outcome holds one finding, ``ENGINE_SCAN_KILLED``, which the
  default force rules turn into quarantine, so a person looks at it;
- no scan process takes it within ``engine.scan_hard_timeout`` (all are busy, or none can
  start; up to two minutes while the pool is still starting): a tempfail verdict
  (``ENGINE_SCAN_UNAVAILABLE``), so the message waits in the spool or the sender retries;
  mail is never lost.

The lockdown level is read here, in the gateway, and travels with each job. The parent keeps
its own clients (the spool processor records sender history with them, the zero-hour watcher
reads the feeds); each scan process builds its own from the same settings.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from mailward.config.settings import Settings
from mailward.engine.forkserver import start_fork_server
from mailward.engine.isolation._child import ChildConfig, Job
from mailward.engine.isolation._jobs import JobResult, PendingJob
from mailward.engine.isolation._pool import ScanPool
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.model import Action, Envelope, Finding, Verdict
from mailward.policy.decide import decide
from mailward.response.lockdown import Level

#: The watchdog stopped the scan (timeout, crash, out of memory); force rule: quarantine.
SCAN_KILLED_SYMBOL = "ENGINE_SCAN_KILLED"
#: No scan process could take the message in time; the verdict is tempfail.
SCAN_UNAVAILABLE_SYMBOL = "ENGINE_SCAN_UNAVAILABLE"
#: Seconds between looks at the queued jobs' waits.
QUEUE_CHECK = 0.5


class IsolatedEngine(Engine):
    """An Engine whose scans run in a pool of scan processes. Call :meth:`close` at the end.

    The detectors are built here too, once, so bad detector settings still stop start-up with
    a ConfigError, and the scorer scores the ENGINE_SCAN_KILLED finding.
    """

    def __init__(
        self,
        settings: Settings,
        clients: Mapping[str, Any] | None = None,
        lockdown: Callable[[], Level] | None = None,
        *,
        test_hook: str | None = None,
    ) -> None:
        """``test_hook``: see :mod:`mailward.engine.isolation._child` (tests only)."""
        start_fork_server()  # it imports mailward while this process builds its detectors
        # its detectors never scan here: nothing built for a first scan (prepare=False)
        super().__init__(settings, clients=clients, lockdown=lockdown, prepare=False)
        engine = settings.engine
        history, offline = "history" in self.clients, "dns" not in self.clients

        def config(index: int) -> ChildConfig:
            return ChildConfig(settings, index, history, offline, engine.scan_memory_mb, test_hook)

        self.pool = ScanPool(config, engine.scan_processes, engine.scan_hard_timeout)
        #: The queue watch of the event loop that scans (a new one for another loop).
        self._watch: QueueWatch | None = None

    def start(self) -> None:
        """Start the scan processes in the background (a scan also does); returns at once."""
        self.pool.start()

    def close(self) -> None:
        """Kill the scan processes; returns at once (``pool.join`` waits until they are
        reaped). The parent's clients are the caller's to close."""
        self.pool.close()

    async def scan(self, raw: bytes, envelope: Envelope | None = None) -> ScanOutcome:
        self.pool.start()
        level = self.lockdown() if self.lockdown is not None else Level.NORMAL
        job = Job(raw, envelope, level, self._feeds_version())
        loop = asyncio.get_running_loop()
        future: asyncio.Future[JobResult] = loop.create_future()
        pending = self.pool.submit(job, loop, future)
        self._queue_watch(loop).add(pending, future)
        try:
            result = await future
        except asyncio.CancelledError:
            pending.abandon()
            raise
        return self._outcome(result, job)

    def _queue_watch(self, loop: asyncio.AbstractEventLoop) -> QueueWatch:
        watch = self._watch
        if watch is None or watch.loop is not loop:
            watch = self._watch = QueueWatch(loop, self.pool.queue_limit)
        return watch

    def _feeds_version(self) -> int:
        feeds = self.clients.get("feeds")
        version = getattr(feeds, "version", 0)
        return version if isinstance(version, int) else 0

    def _outcome(self, result: JobResult, job: Job) -> ScanOutcome:
        if result.outcome is not None:
            parsed = result.outcome.parsed
            if parsed is None:
                return result.outcome
            return dataclasses.replace(
                result.outcome, parsed=dataclasses.replace(parsed, raw=job.raw)
            )
        if result.unavailable is not None:
            return self._unavailable(result.unavailable)
        return self._killed(result.stopped or "it was stopped", result.seconds, job.level)

    def _killed(self, why: str, seconds: float, level: Level) -> ScanOutcome:
        finding = Finding(
            symbol=SCAN_KILLED_SYMBOL,
            explanation=(
                f"The scan was stopped after {seconds:.1f} s: {why}; the message was not "
                "scanned and is kept for a person to review."
            ),
            evidence=(why,),
            detector="engine",
        )
        result = self.scorer.score([finding], seconds * 1000)
        verdict = decide(
            result,
            self.settings.policy,
            authserv_id=self.settings.organisation.authserv_id,
            heightened=self.settings.lockdown if level.tightened else None,
        )
        return ScanOutcome(parsed=None, result=result, verdict=verdict)

    def _unavailable(self, why: str) -> ScanOutcome:
        finding = Finding(
            symbol=SCAN_UNAVAILABLE_SYMBOL,
            explanation=f"The message could not be scanned now: {why}; it will be tried again.",
            evidence=(why,),
            detector="engine",
        )
        result = self.scorer.score([finding], 0.0)
        reason = f"scanning is unavailable: {why}"
        verdict = Verdict(Action.TEMPFAIL, result.score, reason, result.findings)
        return ScanOutcome(parsed=None, result=result, verdict=verdict)


class QueueWatch:
    """Gives up jobs that no scan process took within the queue limit, for one event loop.

    One timer for every job under way (every ``QUEUE_CHECK`` seconds while there are any),
    instead of a timeout per scan: a scan waits for its future alone, and the watch gives it
    the "unavailable" result when its job is still queued past the limit since it was
    submitted (at most ``QUEUE_CHECK`` late, as before), the first time or after its process
    died under it and it was queued again.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: Callable[[], float]) -> None:
        self.loop = loop
        self._limit = limit
        #: Jobs under way (until a look finds them answered), with when they were submitted.
        self._jobs: dict[PendingJob, tuple[asyncio.Future[JobResult], float]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, pending: PendingJob, future: asyncio.Future[JobResult]) -> None:
        self._jobs[pending] = (future, self.loop.time())
        if self._timer is None:
            self._timer = self.loop.call_later(QUEUE_CHECK, self._check)

    def _check(self) -> None:
        self._timer = None
        now = self.loop.time()
        limit = self._limit()
        for pending, (future, queued_at) in list(self._jobs.items()):
            if future.done():  # answered, or its caller gave up
                del self._jobs[pending]
                continue
            waited = now - queued_at
            if waited >= limit and pending.give_up_if_queued():
                del self._jobs[pending]
                future.set_result(
                    JobResult(unavailable=f"no scan process was free within {waited:.0f} s"))
        if self._jobs:
            self._timer = self.loop.call_later(QUEUE_CHECK, self._check)
