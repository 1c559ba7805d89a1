"""Take one spooled message to its end: scan (unless already decided), then deliver, quarantine
or retry, recording every step so that a crash at any instant repeats nothing that finished.

Order of durable steps for one entry:
1. the verdict is saved in the entry's state before anything acts on it;
2. each recipient's delivery is idempotent (Maildir names are derived from the spool id and the
   recipient; the quarantine is keyed by spool id) and is marked done in the state afterwards;
3. the entry is removed only when every recipient is done.
A relay that accepted a message just before a crash may see it once more (SMTP's own limit).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence

from mailward.activity.campaigns import Campaigns, Observed
from mailward.activity.monitor import ActivityMonitor, account_of
from mailward.config.settings import Settings
from mailward.delivery.lmtp import lmtp_message
from mailward.delivery.maildir import MaildirDelivery
from mailward.delivery.relay import relay_message
from mailward.disarm import disarm_message, removed_summary
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.errors import LimitExceeded, ParseError
from mailward.mime import parse_message
from mailward.model import (
    Action,
    Envelope,
    ParsedMessage,
    TextSignature,
    Verdict,
)
from mailward.response.journal import Journal
from mailward.response.lockdown import Level, must_hold
from mailward.spool.delivering import Delivering, RelayFn
from mailward.spool.observing import LaterObservations
from mailward.spool.queue import Spool, SpoolEntry, SpoolState
from mailward.spool.records import (
    Outcome,
    delivered_copies,
    message_record,
    trusted_authserv_ids,
    verdict_from_state,
    verdict_to_state,
)
from mailward.store import MessageRecord, Store

__all__ = [
    "DELIVERED_ACTIONS",
    "Outcome",
    "Processor",
    "RelayFn",
    "delivered_copies",
    "drain",
    "message_record",
    "trusted_authserv_ids",
    "verdict_from_state",
    "verdict_to_state",
]

log = logging.getLogger(__name__)

#: Scanned messages whose parse is kept for their journal entry (see Processor.record).
PARSED_KEPT = 512
DELIVERED_ACTIONS = (Action.DELIVER, Action.TAG, Action.DISARM)


class Processor(Delivering):
    """Scans and delivers spool entries. Safe to run in several workers and processes."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        spool: Spool,
        store: Store,
        relay: RelayFn = relay_message,
        lockdown: Callable[[], Level] | None = None,
        journal: Journal | None = None,
        lmtp: RelayFn = lmtp_message,
        activity: ActivityMonitor | None = None,
        campaigns: Campaigns | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.spool = spool
        self.store = store
        self.maildir = MaildirDelivery(settings.maildir_root)
        self.relay = relay
        self.lmtp = lmtp
        self.lockdown = lockdown
        self.journal = journal
        self.activity = activity
        self.campaigns = campaigns
        #: The scan's ParsedMessage of recently recorded entries, by spool id: the journal
        #: entry written after delivery uses it instead of parsing the message again.
        self._parsed: collections.OrderedDict[str, ParsedMessage] = collections.OrderedDict()
        #: In a cluster: moves a held message to the shared store (mailward.cluster.release).
        self.park: Callable[[SpoolEntry], None] | None = None
        #: Observations the SMTP front end leaves until after its 250 (see LaterObservations).
        self.later = LaterObservations(self.observe_many)

    async def process(
        self,
        entry_id: str,
        now: float | None = None,
        prepare: Callable[[SpoolState], None] | None = None,
    ) -> Outcome | None:
        """Work on one entry if no one else is; None when it is locked or gone.

        ``prepare`` changes the entry's state under the same lock first (a lockdown release
        clears the hold and the old verdict, so no other worker can act on it in between)."""
        with self.spool.locked(entry_id) as mine:
            if not mine:
                return None
            fresh = self.spool.take_fresh(entry_id)
            if fresh is not None:  # just accepted: its bytes are in memory, its state a small
                entry, state = fresh, self.spool.state(entry_id)  # file just written
            else:
                entry, state = await asyncio.to_thread(self._load, entry_id)
            if prepare is not None:
                prepare(state)
                await asyncio.to_thread(self.spool.save_state, entry_id, state)
            return await self._process(entry, state, time.time() if now is None else now)

    def _load(self, entry_id: str) -> tuple[SpoolEntry, SpoolState]:
        return self.spool.load(entry_id), self.spool.state(entry_id)

    async def _process(self, entry: SpoolEntry, state: SpoolState, now: float) -> Outcome:
        observed = await self._observed(entry, state)
        if self._must_hold(entry, state):
            # Lockdown: wait in the durable spool, undelivered, until released.
            if not state.held or observed:
                state.held = True
                await asyncio.to_thread(self.spool.save_state, entry.id, state)
                log.info("held %s (lockdown)", entry.id)
            if self.park is not None:
                try:  # until it is parked the spool keeps it (held); housekeeping retries
                    await asyncio.to_thread(self.park, entry)
                except Exception:
                    log.exception("could not park held %s in the shared store", entry.id)
            return Outcome(entry.id, False, "hold")
        if state.verdict is None:
            verdict = await self._decide(entry)
            if verdict is None:  # tempfail after 250: scan again later
                return await self._defer(entry, state, now, {"*": "scan deferred"})
            state.verdict = verdict_to_state(verdict)
            await asyncio.to_thread(self.spool.save_state, entry.id, state)
        verdict = verdict_from_state(state.verdict)
        if verdict.action in (*DELIVERED_ACTIONS, Action.DISARM):
            verdict = self._bad_campaign(entry, state, verdict)
        if (verdict.action in (*DELIVERED_ACTIONS, Action.DISARM) and self.activity is not None
                and account_of(entry.envelope) is not None):  # mail from outside: never held
            verdict = await asyncio.to_thread(self._activity_hold, entry, verdict)
        if verdict.action is Action.DISARM:
            # The original waits in quarantine; the recipients get the harmless rest.
            await self._quarantine(entry, verdict)
            result = await asyncio.to_thread(disarm_message, entry.raw, quarantine_id=entry.id)
            removed = removed_summary(result.removed) or "active content in the HTML"
            disarmed = dataclasses.replace(
                verdict, add_headers=(*verdict.add_headers, ("X-Mailward-Disarmed", removed))
            )
            return await self._deliver(entry, state, disarmed, now, body=result.raw)
        if verdict.action in DELIVERED_ACTIONS:
            return await self._deliver(entry, state, verdict, now)
        await self._quarantine(entry, verdict)
        await asyncio.to_thread(self.spool.finish, entry.id)
        return Outcome(entry.id, True, str(verdict.action))

    def _must_hold(self, entry: SpoolEntry, state: SpoolState) -> bool:
        if state.released or self.lockdown is None or entry.flags.get("skip_scan"):
            return False
        accepted = self.settings.organisation.accepted_domains
        return must_hold(self.lockdown(), entry.envelope, accepted)

    async def _decide(self, entry: SpoolEntry) -> Verdict | None:
        if entry.flags.get("skip_scan"):
            return Verdict(Action.DELIVER, 0.0, str(entry.flags.get("why", "released")))
        outcome = await self.engine.scan(entry.raw, entry.envelope)
        await asyncio.to_thread(self.record, entry.id, entry.envelope, entry.raw, outcome)
        verdict = outcome.verdict
        if verdict.action is Action.TEMPFAIL:
            expired = time.time() - entry.envelope.received_at > self.settings.delivery.expire_after
            if not expired:
                return None
        if verdict.action not in DELIVERED_ACTIONS and verdict.action is not Action.QUARANTINE:
            # Reject or tempfail can no longer be said in SMTP: keep it for a person instead.
            why = f"{verdict.action} after accept: {verdict.reason}"
            return Verdict(Action.QUARANTINE, verdict.score, why, verdict.findings)
        return verdict

    def record(
        self, entry_id: str, envelope: Envelope, raw: bytes, outcome: ScanOutcome,
        *, observe: bool = True,
    ) -> MessageRecord:
        """Write the message-log row; then, unless ``observe`` is False (the caller has the
        observation made later: :meth:`observe_soon`), :meth:`observe` the scan."""
        rec = message_record(entry_id, envelope, raw, outcome)
        self.store.record_message(rec)
        self._keep_parsed(entry_id, outcome.parsed)
        if observe:
            self.observe(entry_id, envelope, outcome.verdict, outcome.parsed,
                         outcome.text_signature)
        return rec

    def observe(
        self, entry_id: str, envelope: Envelope, verdict: Verdict, parsed: ParsedMessage | None,
        signature: TextSignature | None = None,
    ) -> None:
        """Count a scanned message in the activity baselines (and check its account) and
        cluster it into its campaign: each once per spool id, so making it again is harmless."""
        self.observe_many([Observed(entry_id, envelope, parsed, verdict, signature)])

    def observe_many(self, batch: Sequence[Observed]) -> None:
        """:meth:`observe` each of ``batch`` in this order (the campaign rows of all in one
        transaction)."""
        if self.activity is not None:
            for obs in batch:
                try:  # behaviour across messages is advisory: never hold up mail for it
                    self.activity.observe_message(obs.spool_id, obs.envelope, obs.verdict,
                                                  obs.parsed.message_id if obs.parsed else "")
                except Exception:
                    log.exception("activity checks failed for %s", obs.spool_id)
        if self.campaigns is not None:
            try:  # campaigns too: a failure here never holds up mail
                self.campaigns.observe_many(batch)
            except Exception:
                log.exception("campaign clustering failed for %s",
                              ", ".join(obs.spool_id for obs in batch))

    async def _observed(self, entry: SpoolEntry, state: SpoolState) -> bool:
        """Before the checks of a spooled message: every observation of a message accepted
        before it is made, its own too (see :mod:`mailward.spool.observing`). True when the
        state's mark was cleared (saved with the state's next save)."""
        if entry.flags.get("skip_scan"):
            return False
        if not state.observe:  # made before the 250, or to be made by its scan (record)
            await self.later.made()
            return False
        if self.later.ours(state.observe) and not self.later.dropped(state.observe):
            await self.later.made(state.observe)
        elif state.verdict is not None:  # accepted before a restart, or never started
            await asyncio.to_thread(self._observe_again, entry, verdict_from_state(state.verdict))
        state.observe = ""
        return True

    def _observe_again(self, entry: SpoolEntry, verdict: Verdict) -> None:
        """Observe a spooled message from its bytes (its scan's parse is gone)."""
        parsed = None
        with contextlib.suppress(LimitExceeded, ParseError):
            parsed = parse_message(entry.raw, self.settings.limits)
        self.observe(entry.id, entry.envelope, verdict, parsed)

    def _keep_parsed(self, entry_id: str, parsed: ParsedMessage | None) -> None:
        if parsed is None:
            return
        self._parsed[entry_id] = parsed
        while len(self._parsed) > PARSED_KEPT:
            self._parsed.popitem(last=False)

    def _bad_campaign(self, entry: SpoolEntry, state: SpoolState, verdict: Verdict) -> Verdict:
        """Quarantine instead of delivering a member of a campaign already found bad (a
        release from the quarantine is delivered as asked)."""
        if self.campaigns is None or state.released or entry.flags.get("skip_scan"):
            return verdict
        campaign = self.campaigns.bad_campaign_of(entry.id)
        if campaign is None:
            return verdict
        why = f"member of campaign {campaign}, found bad"
        return Verdict(Action.QUARANTINE, verdict.score, why, verdict.findings)

    def _activity_hold(self, entry: SpoolEntry, verdict: Verdict) -> Verdict:
        """A hold verdict when an alert's hold_outbound holds the sender's account."""
        if self.activity is None or entry.flags.get("skip_scan"):
            return verdict
        alert = self.activity.holding(entry.envelope)
        if alert is None:
            return verdict
        self.activity.record_hold(entry.id, alert, entry.envelope.rcpt_tos, str(verdict.action))
        why = f"held: account {alert.subject} is under alert {alert.id} (hold_outbound)"
        return Verdict(Action.HOLD, verdict.score, why, verdict.findings)

    async def _quarantine(self, entry: SpoolEntry, verdict: Verdict) -> None:
        rec = self.store.get_message(entry.id)
        if rec is None:
            outcome = await self.engine.scan(entry.raw, entry.envelope)
            rec = await asyncio.to_thread(self.record, entry.id, entry.envelope, entry.raw, outcome)
        rec = dataclasses.replace(
            rec, action=str(verdict.action), reason=verdict.reason, score=verdict.score
        )
        await asyncio.to_thread(self.store.record_message, rec)
        await asyncio.to_thread(self.store.quarantine, rec, entry.raw)
        log.info("quarantined %s (%s)", entry.id, verdict.reason)

async def drain(processor: Processor, ids: Sequence[str]) -> list[Outcome]:
    """Process the given entries once each (used by the CLI and tests)."""
    out = []
    for entry_id in ids:
        result = await processor.process(entry_id)
        if result is not None:
            out.append(result)
    return out
