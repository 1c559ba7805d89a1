"""Observations made after the 250: the SMTP front end answers once the message, its verdict
and its message-log row are stored, and the scan's observation (activity baselines and checks,
campaign clustering: :meth:`mailward.spool.processor.Processor.observe`) runs just after the
reply, in one observer thread that takes them in batches, instead of before it.

The spool state of such a message carries a mark (:meth:`LaterObservations.mark`: this
process's token and a sequence number). Before a spooled message's checks (lockdown hold, bad
campaign, activity hold), the spool worker waits for every observation up to its own
(:meth:`LaterObservations.made`), so a message is judged knowing every message accepted before
it, as when the observation came before the 250. A mark of another token was left by an
earlier run of the gateway (a crash or a stop between the 250 and the worker), and a mark
dropped here was never started (the client went away before its reply, a write failed): the
processor observes those messages again from their spooled bytes (each observation counts a
spool id once).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import secrets
import threading
from collections.abc import Callable, Sequence

from mailward.activity.campaigns import Observed
from mailward.engine.pipeline import ScanOutcome
from mailward.model import Envelope

log = logging.getLogger(__name__)

ObserveFn = Callable[[Sequence[Observed]], None]

#: Observations made together at most (one campaign transaction).
BATCH = 64

class LaterObservations:
    """The observations under way in this process, by sequence number."""

    def __init__(self, observe: ObserveFn) -> None:
        self._observe = observe
        self._token = secrets.token_hex(6)
        self._sequence = itertools.count(1)
        self._running: dict[int, asyncio.Future[None]] = {}
        #: Marks given up (the reply was not sent: the client went away, a write failed)
        #: that may be in a spool state all the same: the processor observes those itself.
        self._dropped: set[int] = set()
        #: The observations started and not yet taken by the observer thread, in order.
        self._queue: queue.SimpleQueue[_Started] = queue.SimpleQueue()
        self._observer: threading.Thread | None = None
        self._observer_lock = threading.Lock()

    def mark(self) -> str:
        """The mark for the spool state of a message :meth:`start` will observe."""
        return f"{self._token}:{next(self._sequence)}"

    def ours(self, mark: str) -> bool:
        """Whether ``mark`` was made here (its observation started in this process)."""
        token, _, seq = mark.rpartition(":")
        return token == self._token and seq.isdigit()

    def drop(self, mark: str) -> None:
        """Give up a mark :meth:`start` will not be called with (every mark is started or
        dropped)."""
        self._dropped.add(int(mark.rpartition(":")[2]))

    def dropped(self, mark: str) -> bool:
        """Whether ``mark`` (one of :meth:`ours`) was dropped; forgets it."""
        seq = int(mark.rpartition(":")[2])
        if seq in self._dropped:
            self._dropped.discard(seq)
            return True
        return False

    def start(self, mark: str, entry_id: str, envelope: Envelope, outcome: ScanOutcome) -> None:
        """Observe the scan in the observer thread once the calling task waits (after its
        reply): the thread takes the observations started meanwhile in batches, in order,
        and marks each made once its batch is."""
        seq = int(mark.rpartition(":")[2])
        loop = asyncio.get_running_loop()
        made: asyncio.Future[None] = loop.create_future()
        self._running[seq] = made
        made.add_done_callback(lambda _made: self._running.pop(seq, None))
        started = _Started(loop, made, Observed(
            entry_id, envelope, outcome.parsed, outcome.verdict, outcome.text_signature))
        loop.call_soon(self._hand_over, started)  # once the calling task waits (its reply)

    def _hand_over(self, started: _Started) -> None:
        self._queue.put(started)
        self._ensure_observer()

    def _ensure_observer(self) -> None:
        with self._observer_lock:
            if self._observer is None or not self._observer.is_alive():
                self._observer = threading.Thread(target=self._observe_batches,
                                                  name="later-observations", daemon=True)
                self._observer.start()

    def _observe_batches(self) -> None:
        """The observer thread: one batch after another; it ends when the queue stays empty
        (the next :meth:`start` starts another)."""
        while True:
            try:
                batch = [self._queue.get(timeout=IDLE)]
            except queue.Empty:
                with self._observer_lock:
                    if self._queue.empty():
                        self._observer = None
                        return
                continue
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._observe([started.observed for started in batch])
            except Exception:  # the processor logs its own failures; never stop the thread
                log.exception("later observations failed")
            for started in batch:
                started.made()

    async def made(self, upto: str | None = None) -> None:
        """Wait until the observations started here are made: those up to mark ``upto`` (one
        of :meth:`ours`), or all under way now."""
        last = int(upto.rpartition(":")[2]) if upto is not None else None
        waiting = [t for seq, t in list(self._running.items()) if last is None or seq <= last]
        if waiting:
            await asyncio.wait(waiting)


#: Seconds the observer thread waits for work before it ends.
IDLE = 1.0


class _Started:
    """One observation handed to the observer thread, and how to say it is made."""

    __slots__ = ("future", "loop", "observed")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[None],
                 observed: Observed) -> None:
        self.loop = loop
        self.future = future
        self.observed = observed

    def made(self) -> None:
        """Complete the future in its loop (a loop closed meanwhile waits for nothing)."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(_set_made, self.future)


def _set_made(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
