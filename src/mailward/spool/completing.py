"""The end of a delivered entry: the sender history, the journal entry, then the entry removed
from the spool (:class:`Completing`, a part of :class:`~mailward.spool.processor.Processor`);
and the same bookkeeping after another MTA delivered a scanned message (milter mode)."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from mailward.config.settings import Settings
from mailward.delivery.maildir import MaildirDelivery
from mailward.engine.pipeline import Engine
from mailward.model import ParsedMessage, Verdict
from mailward.response.indicators import entry_from_message
from mailward.response.journal import Journal, SideWrite
from mailward.spool.queue import Spool, SpoolEntry, SpoolState
from mailward.spool.records import delivered_copies
from mailward.spool.sender import header_from_address

__all__ = ["Completing"]

# The processor's logger: its messages keep their name after the move to this module.
log = logging.getLogger("mailward.spool.processor")


class Completing:
    """Sender history, journal and removal of a delivered entry (the Processor's attributes)."""

    settings: Settings
    engine: Engine
    spool: Spool
    maildir: MaildirDelivery
    journal: Journal | None
    _parsed: collections.OrderedDict[str, ParsedMessage]

    async def delivered_elsewhere(
        self, entry: SpoolEntry, verdict: Verdict, copies: Sequence[tuple[str, str]]
    ) -> None:
        """After another MTA delivers a scanned message (milter mode): the sender history and
        the journal are kept as after a delivery here."""
        await self._remember_sender(entry)
        if self.journal is None or not copies:
            return
        try:
            await asyncio.to_thread(self._journal_entry, entry, verdict, copies)
        except Exception:  # the journal serves hunts; it never holds up delivery
            log.exception("could not journal %s", entry.id)

    def _journal_entry(
        self, entry: SpoolEntry, verdict: Verdict, copies: Sequence[tuple[str, str]],
        side: SideWrite | None = None,
    ) -> None:
        """Write the journal entry (off the event loop: it may parse the message)."""
        assert self.journal is not None
        parsed = self._parsed.pop(entry.id, None)
        if parsed is not None and parsed.raw != entry.raw:  # the isolated scan sends no bytes
            parsed = dataclasses.replace(parsed, raw=entry.raw)
        self.journal.record(
            entry_from_message(entry.id, entry.raw, entry.envelope, verdict, copies, parsed),
            side)

    async def _complete(self, entry: SpoolEntry, state: SpoolState, verdict: Verdict) -> None:
        """Sender history, journal, then the entry removed: one worker-thread hop (a history
        that can only be written from the event loop is written first)."""
        sender = self._sender_to_remember(entry)
        history = self.engine.clients.get("history") if sender else None
        record_sync = getattr(history, "record_sync", None)
        if history is not None and not callable(record_sync):
            await self._remember(history, sender, entry)
            record_sync = None
        side = self._sighting(history, sender, entry) if record_sync is not None else None
        await asyncio.to_thread(self._complete_sync, entry, state, verdict, sender, record_sync,
                                side)

    def _sighting(self, history: Any, sender: str, entry: SpoolEntry) -> SideWrite | None:
        """The sender history's sighting as a write in the journal entry's transaction, when
        the history is a table of the journal's database (one commit for both)."""
        record_in = getattr(history, "record_in", None)
        if (self.journal is None or not callable(record_in)
                or getattr(history, "url", None) != self.journal.url):
            return None
        at = self._seen_at(entry)
        return SideWrite(functools.partial(record_in, address=sender, at=at),
                         functools.partial(history.record_sync, sender, at))

    def _complete_sync(
        self, entry: SpoolEntry, state: SpoolState, verdict: Verdict, sender: str,
        record_sync: Callable[[str, float], None] | None, side: SideWrite | None = None,
    ) -> None:
        journaled = self.journal is not None and not entry.flags.get("bounce")
        copies = (delivered_copies(self.settings, entry.id, state.done, self.maildir)
                  if journaled else [])
        if not copies:
            side = None  # no journal entry to write it with
        if record_sync is not None and side is None:
            try:  # history is advisory: never hold up delivery for it
                record_sync(sender, self._seen_at(entry))
            except Exception:
                log.exception("could not record sender history for %s", entry.id)
        if copies:
            try:  # the journal serves hunts; it never holds up delivery
                self._journal_entry(entry, verdict, copies, side)
            except Exception:
                log.exception("could not journal %s", entry.id)
        self.spool.finish(entry.id)

    def _sender_to_remember(self, entry: SpoolEntry) -> str:
        """The From address of delivered outside mail, for the sender history ("": none)."""
        if self.engine.clients.get("history") is None or entry.flags.get("skip_scan"):
            return ""
        sender = header_from_address(entry.raw)
        if sender.rpartition("@")[2] in self.settings.organisation.accepted_domains:
            return ""
        return sender

    @staticmethod
    def _seen_at(entry: SpoolEntry) -> float:
        return entry.envelope.received_at or time.time()

    async def _remember(self, history: Any, sender: str, entry: SpoolEntry) -> None:
        try:
            await history.record(sender, self._seen_at(entry))
        except Exception:  # history is advisory: never hold up delivery for it
            log.exception("could not record sender history for %s", entry.id)

    async def _remember_sender(self, entry: SpoolEntry) -> None:
        """Record the From address of delivered outside mail in the sender history."""
        sender = self._sender_to_remember(entry)
        history = self.engine.clients.get("history")
        if sender and history is not None:
            await self._remember(history, sender, entry)
