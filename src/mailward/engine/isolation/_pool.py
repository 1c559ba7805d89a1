"""A pool of scan processes, each looked after by a thread of the gateway (its watchdog).

One :class:`_Slot` thread per scan process starts the process (multiprocessing 'forkserver':
never a plain fork of the threaded gateway), waits until it has built its Engine, then takes
jobs from a shared queue and sends each one over the process's pipe. The slot waits for the
answer at most ``hard_timeout`` seconds; past that it SIGKILLs the process and the job ends as
*stopped*. A process that dies (crash, out of memory, killed from outside) is noticed within half
a second, or at once when it dies during a job, and is replaced; a process that cannot start is
retried with a growing pause. While one process is stuck the others keep taking jobs.

Jobs cross from the event loop to the slots as :class:`~._jobs.PendingJob`. A job whose caller
gave up (an asyncio cancellation, e.g. the inline SMTP scan's timeout) kills the process that
runs it; a job whose process died under it is tried once more on another process.

A scan process may also retire itself after a scan (it may carry leftover work, or it served
``engine.scan_recycle_after`` scans; see :mod:`~._leftover`): its answer comes with the reason,
the slot delivers the result first, takes no other job to it, reaps it and starts a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import queue
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from mailward.engine.forkserver import start_process
from mailward.engine.isolation._child import ChildConfig, Job, child_main
from mailward.engine.isolation._jobs import JobResult, PendingJob

log = logging.getLogger(__name__)

#: Seconds a new scan process may take to build its Engine.
STARTUP_TIMEOUT = 120.0
_MAX_BACKOFF = 30.0
_CHECK_EVERY = 0.5
class _Handle:
    """One running scan process and the gateway's end of its pipe."""

    def __init__(self, index: int, proc: BaseProcess, conn: Connection) -> None:
        self.index = index
        self.proc = proc
        self.conn = conn
        self.pid = proc.pid or 0
        self._reaped = False
        self._code: int | None = None
        #: Why the process retired itself after its last scan; None while it serves.
        self.retired: str | None = None

    def alive(self) -> bool:
        return not self._reaped and self.proc.is_alive()

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.proc.kill()

    def reap(self) -> int | None:
        """Wait for the process to end (killing it if it will not) and free its resources."""
        if self._reaped:
            return self._code
        self.proc.join(1.0)
        if self.proc.exitcode is None:
            self.kill()
            self.proc.join(5.0)
        self._code = self.proc.exitcode
        self._reaped = True
        with contextlib.suppress(OSError):
            self.conn.close()
        return self._code


class ScanPool:
    """``processes`` scan processes sharing one queue of jobs."""

    def __init__(
        self, config: Callable[[int], ChildConfig], processes: int, hard_timeout: float
    ) -> None:
        self.config = config
        self.hard_timeout = hard_timeout
        self.jobs: queue.Queue[PendingJob | None] = queue.Queue()
        self.stopping = threading.Event()
        self.ready = threading.Condition()
        #: Seconds each scan process took from start to ready (for benchmarks and logs).
        self.startup_seconds: list[float] = []
        self._slots = [_Slot(self, i) for i in range(processes)]
        self._started = False
        #: Failed starts since a scan process last became ready.
        self.start_failures = 0

    def start(self) -> None:
        """Start the scan processes in the background; returns at once."""
        if self._started:
            return
        self._started = True
        for slot in self._slots:
            slot.start()

    def submit(
        self, job: Job, loop: asyncio.AbstractEventLoop, future: asyncio.Future[JobResult]
    ) -> PendingJob:
        pending = PendingJob(job, loop, future)
        if self.stopping.is_set():
            pending.finish(JobResult(unavailable="the gateway is stopping"))
        else:
            self.jobs.put(pending)
        return pending

    def requeue(self, pending: PendingJob) -> None:
        """Put a job back at the head of the queue (its process went away)."""
        with self.jobs.mutex:
            if self.stopping.is_set():  # close() has drained the queue already, or will
                pending.finish(JobResult(unavailable="the gateway is stopping"))
                return
            self.jobs.queue.appendleft(pending)
            self.jobs.unfinished_tasks += 1
            self.jobs.not_empty.notify()

    def pids(self) -> list[int]:
        """Process ids of the scan processes that are ready now."""
        return [s.handle.pid for s in self._slots if s.handle is not None and s.is_ready]

    def queue_limit(self) -> float:
        """Seconds a new job may wait for a free process: longer while the pool starts up."""
        if self.pids() or self.start_failures >= len(self._slots):
            return self.hard_timeout
        return max(self.hard_timeout, STARTUP_TIMEOUT)

    def wait_ready(self, timeout: float, count: int | None = None) -> bool:
        """Wait until ``count`` (default: all) scan processes are ready."""
        want = len(self._slots) if count is None else count
        with self.ready:
            return self.ready.wait_for(lambda: len(self.pids()) >= want, timeout)

    def wait_started(self, timeout: float) -> bool:
        """Wait until one scan process is ready (True), or every one has failed to start at
        least once since the last was ready, or ``timeout`` passes (False)."""
        with self.ready:
            self.ready.wait_for(
                lambda: bool(self.pids()) or self.start_failures >= len(self._slots), timeout)
            return bool(self.pids())

    def close(self) -> None:
        """Kill every scan process and stop the slots (without waiting for them: see
        :meth:`join`); jobs still queued end as unavailable."""
        self.stopping.set()
        for _ in self._slots:
            self.jobs.put(None)
        for slot in self._slots:
            if slot.handle is not None:
                slot.handle.kill()
        while True:
            try:
                pending = self.jobs.get_nowait()
            except queue.Empty:
                break
            if pending is not None:
                pending.finish(JobResult(unavailable="the gateway is stopping"))

    def join(self, timeout: float = 10.0) -> bool:
        """Wait until the slots have reaped their processes and ended; False on timeout."""
        deadline = time.monotonic() + timeout
        for slot in self._slots:
            if slot.is_alive():
                slot.join(max(deadline - time.monotonic(), 0.0))
        return not any(slot.is_alive() for slot in self._slots)

    def _notify(self) -> None:
        with self.ready:
            self.ready.notify_all()


class _Slot(threading.Thread):
    """Starts, feeds, watches and replaces one scan process."""

    def __init__(self, pool: ScanPool, index: int) -> None:
        super().__init__(name=f"scan-slot-{index}", daemon=True)
        self.pool = pool
        self.index = index
        self.handle: _Handle | None = None
        self.is_ready = False

    def run(self) -> None:
        backoff = 0.5
        while not self.pool.stopping.is_set():
            handle = self._start_child()
            if handle is None:
                self.pool.stopping.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            backoff = 0.5
            try:
                self._serve(handle)
            finally:
                self.is_ready = False
                self.pool._notify()
                code = handle.reap()
                self.handle = None
            if self.pool.stopping.is_set():
                continue
            if handle.retired is not None:
                log.info(
                    "scan process %d (pid %d) retired (%s); starting another",
                    self.index, handle.pid, handle.retired,
                )
            else:
                log.warning(
                    "scan process %d (pid %d) ended (%s); starting another",
                    self.index, handle.pid, describe_exit(code),
                )

    def _spawn(self) -> _Handle | None:
        """Start a scan process (forked by the fork server, never from this process)."""
        ctx = multiprocessing.get_context("forkserver")
        ours, theirs = ctx.Pipe(duplex=True)
        proc = ctx.Process(
            target=child_main, args=(theirs, self.pool.config(self.index)),
            name=f"mailward-scan-{self.index}", daemon=True,
        )
        try:
            start_process(proc)
        except Exception:
            log.exception("could not start scan process %d", self.index)
            ours.close()
            return None
        finally:
            theirs.close()
        return _Handle(self.index, proc, ours)

    def _start_child(self) -> _Handle | None:
        """A new scan process, once it has built its Engine; None when it could not."""
        started = time.monotonic()
        handle = self.handle = self._spawn()
        if handle is None:
            self.pool.start_failures += 1
            self.pool._notify()
            return None
        hello = self._await_hello(handle)
        if hello is None or hello[0] != "ready":
            why = hello[1] if hello else f"no answer in {STARTUP_TIMEOUT:g} s"
            if not self.pool.stopping.is_set():
                log.error("scan process %d did not start: %s", self.index, why)
            self.pool.start_failures += 1
            handle.reap()
            self.handle = None
            self.pool._notify()
            return None
        seconds = time.monotonic() - started
        self.pool.startup_seconds.append(seconds)
        log.info(
            "scan process %d (pid %d) ready in %.2f s, %d MiB address space",
            self.index, handle.pid, seconds, hello[1],
        )
        self.is_ready = True
        self.pool.start_failures = 0
        self.pool._notify()
        return handle

    def _await_hello(self, handle: _Handle) -> tuple[object, ...] | None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        try:
            while not handle.conn.poll(0.2):
                if self.pool.stopping.is_set() or time.monotonic() > deadline:
                    return None
            hello = handle.conn.recv()
        except (EOFError, OSError):
            return ("died", describe_exit(handle.reap()))
        return hello if isinstance(hello, tuple) and len(hello) == 2 else None

    def _serve(self, handle: _Handle) -> None:
        while not self.pool.stopping.is_set():
            try:
                pending = self.pool.jobs.get(timeout=_CHECK_EVERY)
            except queue.Empty:
                if not handle.alive():
                    return
                continue
            if pending is None:
                return
            if not handle.alive():
                self.pool.requeue(pending)  # another process may be ready for it now
                return
            if not pending.claim(handle):
                continue
            if not self._run(handle, pending):
                return

    def _run(self, handle: _Handle, pending: PendingJob) -> bool:
        """Run one job; False when the process must be replaced."""
        started = time.monotonic()
        try:
            handle.conn.send(pending.job)
        except (OSError, ValueError):
            if pending.unclaim():  # it never saw the job: the next free process scans it
                self.pool.requeue(pending)
            return False
        try:
            if not handle.conn.poll(self.pool.hard_timeout):
                handle.kill()
                log.error(
                    "scan process %d (pid %d) killed: a scan %s ran past %g s",
                    self.index, handle.pid, _about(pending.job), self.pool.hard_timeout,
                )
                why = f"it ran past the hard limit of {self.pool.hard_timeout:g} s"
                pending.finish(JobResult(stopped=why, seconds=time.monotonic() - started))
                return False
            reply = handle.conn.recv()
        except (EOFError, OSError):
            why = describe_exit(handle.reap())
            if pending.job_abandoned():  # its caller gave up (e.g. the inline scan's timeout)
                log.info("scan process %d (pid %d) stopped: its scan %s was given up",
                         self.index, handle.pid, _about(pending.job))
                return False
            log.error("scan process %d (pid %d) died during a scan %s: %s", self.index,
                      handle.pid, _about(pending.job), why)
            if pending.retry():  # once: it may have died for another reason than this job
                self.pool.requeue(pending)
            else:
                pending.finish(JobResult(stopped=why, seconds=time.monotonic() - started))
            return False
        result, keep = _from_reply(reply)
        pending.finish(_timed(result, time.monotonic() - started))
        handle.retired = _retiring(reply)
        return keep


def _retiring(reply: object) -> str | None:
    """Why the process that answered retires itself (see :mod:`~._leftover`); None if not."""
    if isinstance(reply, tuple) and len(reply) == 3 and reply[0] == "ok" and reply[2]:
        return str(reply[2])
    return None


def _from_reply(reply: object) -> tuple[JobResult, bool]:
    """The child's answer as a JobResult, and whether its process may go on."""
    if isinstance(reply, tuple) and len(reply) == 3 and reply[0] == "ok":
        return JobResult(outcome=reply[1]), not reply[2]
    if isinstance(reply, tuple) and len(reply) == 2 and reply[0] == "error":
        return JobResult(stopped=f"the scan failed ({reply[1]})"), True
    if isinstance(reply, tuple) and len(reply) == 2 and reply[0] == "memory":
        return JobResult(stopped=str(reply[1])), False
    return JobResult(stopped="its scan process gave an answer it should not"), False


def _about(job: Job) -> str:
    """Which message, for the log: peer and size, never content."""
    peer = job.envelope.peer_ip if job.envelope is not None else "unknown"
    return f"(from {peer}, {len(job.raw)} bytes)"


def _timed(result: JobResult, seconds: float) -> JobResult:
    return JobResult(result.outcome, result.stopped, result.unavailable, seconds)


def describe_exit(code: int | None) -> str:
    """A person's words for a process exit code."""
    if code is None:
        return "its scan process stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGKILL:
            return f"its scan process was killed ({name}; out of memory or from outside)"
        return f"its scan process crashed ({name})"
    if code == 3:
        return "its scan process ran out of memory"
    return f"its scan process exited with status {code}"
