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
import email.utils
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from mailward.activity.campaigns import Campaigns
from mailward.activity.monitor import ActivityMonitor, account_of
from mailward.config.settings import RelaySettings, Settings
from mailward.delivery.dsn import build_bounce
from mailward.delivery.lmtp import lmtp_message
from mailward.delivery.maildir import MaildirDelivery
from mailward.delivery.relay import RelayResult, normalise_line_endings, relay_message
from mailward.delivery.retry import next_retry_delay
from mailward.disarm import disarm_message, removed_summary
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.errors import DeliveryError, LimitExceeded, ParseError, PermanentDeliveryError
from mailward.mime import parse_message
from mailward.model import (
    Action,
    Envelope,
    ParsedMessage,
    TextSignature,
    Verdict,
    findings_from_json,
)
from mailward.policy.rewrite import apply_verdict, safe_header_value, strip_inbound_headers
from mailward.response.indicators import entry_from_message, maildir_location, relay_location
from mailward.response.journal import Journal, SideWrite
from mailward.response.lockdown import Level, must_hold
from mailward.spool.observing import LaterObservations
from mailward.spool.queue import Spool, SpoolEntry, SpoolState
from mailward.spool.sender import header_from_address
from mailward.store import MessageRecord, Store

log = logging.getLogger(__name__)

RelayFn = Callable[..., Coroutine[Any, Any, RelayResult]]
#: Scanned messages whose parse is kept for their journal entry (see Processor.record).
PARSED_KEPT = 512
DELIVERED_ACTIONS = (Action.DELIVER, Action.TAG, Action.DISARM)


def verdict_to_state(verdict: Verdict) -> dict[str, Any]:
    data = dict(verdict.to_json())
    data["add_headers"] = [list(h) for h in verdict.add_headers]
    data["subject_prefix"] = verdict.subject_prefix
    return data


def verdict_from_state(data: dict[str, Any]) -> Verdict:
    return Verdict(
        action=Action(data["action"]),
        score=float(data["score"]),
        reason=str(data["reason"]),
        findings=findings_from_json(data.get("findings", [])),
        add_headers=tuple((str(n), str(v)) for n, v in data.get("add_headers", [])),
        subject_prefix=data.get("subject_prefix"),
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    entry_id: str
    finished: bool
    action: str


class Processor:
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
        self.later = LaterObservations(self.observe)

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
        if self.activity is not None:
            try:  # behaviour across messages is advisory: never hold up mail for it
                self.activity.observe_message(entry_id, envelope, verdict,
                                              parsed.message_id if parsed else "")
            except Exception:
                log.exception("activity checks failed for %s", entry_id)
        if self.campaigns is not None:
            try:  # campaigns too: a failure here never holds up mail
                self.campaigns.observe(entry_id, envelope, parsed, verdict, signature=signature)
            except Exception:
                log.exception("campaign clustering failed for %s", entry_id)

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

    async def _deliver(
        self, entry: SpoolEntry, state: SpoolState, verdict: Verdict, now: float,
        body: bytes | None = None,
    ) -> Outcome:
        source, removed = strip_inbound_headers(
            entry.raw if body is None else body,
            self.settings.policy.strip_inbound_headers,
            trusted_authserv_ids(self.settings),
        )
        if removed:
            names = safe_header_value(", ".join(sorted(set(removed))))[:300]
            log.info("removed %d inbound verdict headers from %s: %s", len(removed), entry.id,
                     names)
        raw = normalise_line_endings(apply_verdict(
            source,
            verdict,
            authserv_id=self.settings.organisation.authserv_id,
            trace_headers=[("Received", self.received_header(entry))],
        ))
        pending = [r for r in entry.envelope.rcpt_tos if r not in state.done]
        temp: dict[str, str] = {}
        perm: dict[str, str] = {}
        if entry.flags.get("reinject"):  # came through the milter: back into the MTA
            await self._reinject(entry, state, raw, pending, temp, perm)
            return await self._settle(entry, state, verdict, temp, perm, now)
        inbound = self.settings.delivery.inbound
        local = [r for r in pending if self._is_inbound(r)]
        remote = [r for r in pending if not self._is_inbound(r)]
        if inbound == "maildir" and local and not remote:
            if await self._to_maildir_and_complete(entry, state, verdict, raw, local, temp, perm):
                return Outcome(entry.id, True, str(verdict.action))
        elif inbound == "maildir":
            await self._to_maildir(entry, state, raw, local, temp, perm)
        elif local:  # "lmtp": the mail store answers for each recipient
            await self._hand_off(self.lmtp, self.settings.delivery.lmtp, "lmtp", entry, state,
                                 raw, local, temp, perm)
        if remote:
            await self._hand_off(self.relay, self.settings.delivery.relay, "relayed", entry,
                                 state, raw, remote, temp, perm)
        return await self._settle(entry, state, verdict, temp, perm, now)

    async def _reinject(
        self, entry: SpoolEntry, state: SpoolState, raw: bytes, rcpts: list[str],
        temp: dict[str, str], perm: dict[str, str],
    ) -> None:
        """Mail the milter took over (hold, quarantine release) goes to ``milter.reinject``."""
        host, _, port = self.settings.milter.reinject.rpartition(":")
        if not host:
            temp.update({r: "no [milter] reinject address is configured" for r in rcpts})
            return
        where = RelaySettings(host=host.strip("[]"), port=int(port))
        await self._hand_off(self.relay, where, "relayed", entry, state, raw, rcpts, temp, perm)

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

    async def _to_maildir_and_complete(
        self, entry: SpoolEntry, state: SpoolState, verdict: Verdict, raw: bytes,
        rcpts: list[str], temp: dict[str, str], perm: dict[str, str],
    ) -> bool:
        """Maildir copies for every recipient and, when each is made, the entry completed as
        :meth:`_complete` does, in one worker-thread hop; True when completed (else ``temp``
        and ``perm`` say what failed, for :meth:`_settle`)."""
        sender = self._sender_to_remember(entry)
        history = self.engine.clients.get("history") if sender else None
        record_sync = getattr(history, "record_sync", None)
        if history is not None and not callable(record_sync):  # from the event loop only
            await self._to_maildir(entry, state, raw, rcpts, temp, perm)
            if temp or perm:
                return False
            await self._complete(entry, state, verdict)
            return True
        side = self._sighting(history, sender, entry) if record_sync is not None else None
        return await asyncio.to_thread(self._maildir_and_complete_sync, entry, state, verdict,
                                       raw, rcpts, temp, perm, sender, record_sync, side)

    def _maildir_and_complete_sync(
        self, entry: SpoolEntry, state: SpoolState, verdict: Verdict, raw: bytes,
        rcpts: list[str], temp: dict[str, str], perm: dict[str, str], sender: str,
        record_sync: Callable[[str, float], None] | None, side: SideWrite | None,
    ) -> bool:
        self._maildir_copies(entry, state, raw, rcpts, temp, perm)
        if temp or perm:
            return False
        self._complete_sync(entry, state, verdict, sender, record_sync, side)
        return True

    async def _to_maildir(
        self, entry: SpoolEntry, state: SpoolState, raw: bytes, rcpts: list[str],
        temp: dict[str, str], perm: dict[str, str],
    ) -> None:
        if rcpts:  # one worker-thread hop for all of them
            await asyncio.to_thread(self._maildir_copies, entry, state, raw, rcpts, temp, perm)

    def _maildir_copies(
        self, entry: SpoolEntry, state: SpoolState, raw: bytes, rcpts: list[str],
        temp: dict[str, str], perm: dict[str, str],
    ) -> None:
        first = self._first_attempt(entry.id, state)
        names: set[str] = set()  # a recipient twice (in any case) is one copy, looked for
        for rcpt in rcpts:
            key = rcpt.lower()
            first_here = first and key not in names
            names.add(key)
            try:
                self.maildir.deliver(entry.id, rcpt, raw, first_attempt=first_here)
                state.done[rcpt] = "delivered"
            except PermanentDeliveryError as exc:
                perm[rcpt] = str(exc)
            except (DeliveryError, OSError) as exc:
                temp[rcpt] = str(exc)

    def _first_attempt(self, entry_id: str, state: SpoolState) -> bool:
        """Whether this is certainly the entry's first Maildir delivery attempt (its copies
        then need no look in ``cur/``): the spool made its id in this process, no attempt
        began here (:meth:`Spool.take_new`) nor elsewhere (``state.started``). Otherwise
        ``started`` is saved before the attempt (one state write, for retries and entries
        taken up after a crash or from another process only), so that the process that
        spooled the entry never takes a later attempt for its first."""
        first = self.spool.take_new(entry_id) and not state.started
        if not state.started:
            state.started = True  # saved now, or with the state's next save
            if not first:
                self.spool.save_state(entry_id, state)
        return first

    async def _hand_off(
        self, send: RelayFn, where: Any, done_as: str, entry: SpoolEntry, state: SpoolState,
        raw: bytes, rcpts: list[str], temp: dict[str, str], perm: dict[str, str],
    ) -> None:
        """Relay or LMTP: record who was accepted; the rest are retried or bounced.

        The accepted recipients are marked done in the spool state (fsynced) the moment the
        next hop says so, before QUIT: a crash after that delivers nothing twice, a crash
        before it re-delivers only this message (Postfix does the same)."""

        async def mark_done(accepted: tuple[str, ...]) -> None:
            state.done.update({r: done_as for r in accepted})
            await asyncio.to_thread(self.spool.save_state, entry.id, state)

        result = await send(
            where, entry.envelope.mail_from, rcpts, raw, helo=self.settings.smtp.hostname,
            on_accepted=mark_done,
        )
        state.done.update({r: done_as for r in result.accepted})
        temp.update(result.temp_failed)
        perm.update(result.perm_failed)

    async def _settle(
        self, entry: SpoolEntry, state: SpoolState, verdict: Verdict,
        temp: dict[str, str], perm: dict[str, str], now: float,
    ) -> Outcome:
        expired = now - entry.envelope.received_at > self.settings.delivery.expire_after
        failed = dict(perm)
        if expired:
            failed.update({r: f"expired: {why}" for r, why in temp.items()})
            temp = {}
        if failed:
            await asyncio.to_thread(self._bounce, entry, state, failed, now)
            state.done.update({r: "bounced" for r in failed})
        if temp:
            return await self._defer(entry, state, now, temp)
        if failed:  # bounced: not sent again after a crash before finish
            await asyncio.to_thread(self.spool.save_state, entry.id, state)
        # Otherwise the entry is finished below, and a crash before that repeats nothing:
        # Maildir copies are found again by name, relay and LMTP recipients were saved as
        # done the moment the next hop took them, the journal is idempotent by spool id.
        await self._complete(entry, state, verdict)
        return Outcome(entry.id, True, str(verdict.action))

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

    async def _defer(
        self, entry: SpoolEntry, state: SpoolState, now: float, errors: dict[str, str]
    ) -> Outcome:
        d = self.settings.delivery
        state.attempts += 1
        state.next_attempt = now + next_retry_delay(state.attempts, d.retry_initial, d.retry_max)
        state.last_errors = errors
        await asyncio.to_thread(self.spool.save_state, entry.id, state)
        log.info("deferred %s: %s", entry.id, "; ".join(f"{k}: {v}" for k, v in errors.items()))
        return Outcome(entry.id, False, "deferred")

    def _bounce(
        self, entry: SpoolEntry, state: SpoolState, failed: dict[str, str], now: float
    ) -> None:
        sender = entry.envelope.mail_from
        if not sender or entry.flags.get("bounce"):
            log.warning("dropping bounce for %s: null sender or bounce of a bounce", entry.id)
            return
        dsn = build_bounce(
            reporting_mta=self.settings.smtp.hostname,
            original_mail_from=sender,
            failed=failed,
            original_raw=entry.raw,
            arrival_time=entry.envelope.received_at,
            now=now,
        )
        envelope = Envelope(mail_from="", rcpt_tos=(sender,), received_at=now, internal=True)
        self.spool.put(
            envelope, dsn, flags={"bounce": True, "skip_scan": True, "why": "bounce"},
            entry_id=f"{entry.id}-b{state.attempts}",
        )

    def _is_inbound(self, rcpt: str) -> bool:
        """Mail for the accepted domains goes to Maildir or LMTP (unless inbound = relay)."""
        if self.settings.delivery.inbound == "relay":
            return False
        domain = rcpt.rpartition("@")[2].lower()
        return domain in self.settings.organisation.accepted_domains

    def received_header(self, entry: SpoolEntry) -> str:
        env = entry.envelope
        helo = safe_header_value(env.helo)[:255] or "unknown"
        proto = "ESMTP" + ("S" if env.tls else "") + ("A" if env.authenticated_as else "")
        stamp = email.utils.formatdate(env.received_at or time.time(), localtime=False)
        peer = safe_header_value(env.peer_ip)
        return (
            f"from {helo} ([{peer}])\r\n\tby {self.settings.smtp.hostname}"
            f" (mailward) with {proto} id {entry.id};\r\n\t{stamp}"
        )


def trusted_authserv_ids(settings: Settings) -> tuple[str, ...]:
    """authserv-ids whose Authentication-Results the auth detector trusts: kept on delivery."""
    value = settings.detectors.get("auth", {}).get("trust_authentication_results_from", ())
    values = (value,) if isinstance(value, str) else tuple(value or ())
    return tuple(str(v).strip().lower() for v in values if str(v).strip())


def delivered_copies(
    settings: Settings, entry_id: str, done: dict[str, str],
    maildir: MaildirDelivery | None = None,
) -> list[tuple[str, str]]:
    """(recipient, location) of each delivered copy, as the journal keeps them (``maildir``:
    the delivery that made the copies, which knows their Maildirs already)."""
    copies = []
    maildir = maildir or MaildirDelivery(settings.maildir_root)
    for rcpt, outcome in done.items():
        if outcome == "delivered":
            path = maildir.copy_path(entry_id, rcpt)
            copies.append((rcpt, maildir_location(path)))
        elif outcome == "relayed":
            copies.append((rcpt, relay_location(settings.delivery.relay.host or "")))
        elif outcome == "lmtp":  # in the mail store's INBOX: claw back over IMAP
            lmtp = settings.delivery.lmtp
            copies.append((rcpt, f"lmtp:{lmtp.path or f'{lmtp.host}:{lmtp.port}'}"))
    return copies


def message_record(
    entry_id: str, envelope: Envelope, raw: bytes, outcome: ScanOutcome
) -> MessageRecord:
    parsed = outcome.parsed
    return MessageRecord(
        id=entry_id,
        received_at=envelope.received_at,
        mail_from=envelope.mail_from,
        rcpt_tos=envelope.rcpt_tos,
        peer_ip=envelope.peer_ip,
        message_id=parsed.message_id if parsed else "",
        subject=parsed.subject if parsed else "",
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        score=outcome.verdict.score,
        action=str(outcome.verdict.action),
        reason=outcome.verdict.reason,
        findings=outcome.verdict.findings,
    )


async def drain(processor: Processor, ids: Sequence[str]) -> list[Outcome]:
    """Process the given entries once each (used by the CLI and tests)."""
    out = []
    for entry_id in ids:
        result = await processor.process(entry_id)
        if result is not None:
            out.append(result)
    return out
