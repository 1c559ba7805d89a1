"""Delivery of a decided entry (:class:`Delivering`, a part of
:class:`~mailward.spool.processor.Processor`): Maildir copies for the local recipients, relay
or LMTP hand-offs, the milter's re-injection; then settled: completed, retried later (back-off)
or bounced (DSN)."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from mailward.config.settings import RelaySettings
from mailward.delivery.dsn import build_bounce
from mailward.delivery.relay import RelayResult, normalise_line_endings
from mailward.delivery.retry import next_retry_delay
from mailward.errors import DeliveryError, PermanentDeliveryError
from mailward.model import Envelope, Verdict
from mailward.policy.rewrite import apply_verdict, safe_header_value, strip_inbound_headers
from mailward.response.journal import SideWrite
from mailward.spool.completing import Completing
from mailward.spool.queue import SpoolEntry, SpoolState
from mailward.spool.records import Outcome, trusted_authserv_ids

__all__ = ["Delivering", "RelayFn"]

# The processor's logger: its messages keep their name after the move to this module.
log = logging.getLogger("mailward.spool.processor")

RelayFn = Callable[..., Coroutine[Any, Any, RelayResult]]


class Delivering(Completing):
    """Deliveries of a decided entry and their settling (the Processor's attributes)."""

    relay: RelayFn
    lmtp: RelayFn

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
