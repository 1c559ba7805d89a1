"""Observations made after the 250: the SMTP front end answers once the message, its verdict
and its message-log row are stored, and the scan's observation (activity baselines and checks,
campaign clustering: :meth:`mailward.spool.processor.Processor.observe`) runs just after the
reply, in a worker thread, instead of before it.

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
import itertools
import logging
import secrets
from collections.abc import Callable

from mailward.engine.pipeline import ScanOutcome
from mailward.model import Envelope, ParsedMessage, TextSignature, Verdict

log = logging.getLogger(__name__)

ObserveFn = Callable[[str, Envelope, Verdict, ParsedMessage | None, TextSignature | None], None]


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
        """Observe the scan in a worker thread once the calling task waits (after its reply)."""
        seq = int(mark.rpartition(":")[2])
        task = asyncio.ensure_future(asyncio.to_thread(
            self._observe, entry_id, envelope, outcome.verdict, outcome.parsed,
            outcome.text_signature))
        self._running[seq] = task
        task.add_done_callback(lambda _task: self._running.pop(seq, None))

    async def made(self, upto: str | None = None) -> None:
        """Wait until the observations started here are made: those up to mark ``upto`` (one
        of :meth:`ours`), or all under way now."""
        last = int(upto.rpartition(":")[2]) if upto is not None else None
        waiting = [t for seq, t in list(self._running.items()) if last is None or seq <= last]
        if waiting:
            await asyncio.wait(waiting)
