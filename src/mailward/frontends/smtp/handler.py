"""aiosmtpd handler hooks: recipient policy, then DATA -> durable spool -> inline scan -> reply.

The 250 to DATA is sent only after the message is fsynced in the spool. While the client waits
(up to ``smtp.inline_scan_timeout``) the message is scanned, so a reject or tempfail can be said
in SMTP (550 / 451) instead of bouncing later; a slower scan finishes from the spool after 250.
The message-log row is stored before the 250 and the verdict kept with the entry (in memory,
for the first delivery attempt right after: :meth:`Spool.keep_state`); the observation across
messages (activity, campaigns) is made just after it (:mod:`mailward.spool.observing`), except for a
message refused here, which is observed before its 550 / 451.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from mailward.activity.monitor import ActivityMonitor
from mailward.cluster.backlog import HeldCount
from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.errors import MailwardError
from mailward.frontends.smtp.relay_policy import RelayPolicy
from mailward.model import Action, Envelope
from mailward.ratelimit import RateLimiter
from mailward.response.lockdown import Level
from mailward.spool.processor import Processor, verdict_to_state
from mailward.spool.queue import Spool, SpoolState

log = logging.getLogger(__name__)


def _peer_ip(session: Any) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "")


class GatewayHandler:
    """The hooks aiosmtpd calls. One instance serves every connection."""

    def __init__(
        self,
        settings: Settings,
        spool: Spool,
        engine: Engine,
        processor: Processor,
        on_queued: Callable[[str], None] = lambda _id: None,
        activity: ActivityMonitor | None = None,
        limiter: RateLimiter | None = None,
        held_count: HeldCount | None = None,
    ) -> None:
        self.settings = settings
        self.spool = spool
        self.engine = engine
        self.processor = processor
        self.policy = RelayPolicy(
            settings.organisation.accepted_domains, settings.organisation.internal_networks
        )
        self.on_queued = on_queued
        self.activity = activity
        #: Rate limits at MAIL and RCPT ([ratelimit]); None: none.
        self.limiter = limiter
        #: In a cluster: the shared held backlog, counted toward max_held_messages.
        self.held_count = held_count
        self._auth_tasks: set[asyncio.Future[None]] = set()

    def auth_observer(self, login: str, peer_ip: str, ok: bool) -> None:
        """Count an AUTH attempt in the activity baselines, off the event loop."""
        if self.activity is None:
            return
        future = asyncio.get_running_loop().run_in_executor(
            None, self._observe_auth, login, peer_ip, ok)
        self._auth_tasks.add(future)
        future.add_done_callback(self._auth_tasks.discard)

    def _observe_auth(self, login: str, peer_ip: str, ok: bool) -> None:
        assert self.activity is not None
        try:
            self.activity.observe_auth(login, peer_ip, ok)
        except Exception:
            log.exception("activity checks failed for an AUTH attempt from %s", peer_ip)

    def trusted(self, session: Any) -> bool:
        return bool(session.authenticated) or self.policy.is_internal(_peer_ip(session))

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """Advertise PIPELINING (aiosmtpd answers pipelined commands in order already)."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if await self._spool_full():
            return "452 4.3.1 Mail is held for maintenance and the queue is full; try again later"
        if self.limiter is not None:
            refusal = await self.limiter.check_mail(
                _peer_ip(session), address, authenticated=bool(session.authenticated))
            if refusal is not None:
                return refusal.reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender ok"

    async def _spool_full(self) -> bool:
        """At hold-all, past lockdown.max_held_messages queued (this node's spool, plus the
        cluster's shared held backlog), senders are asked to retry."""
        level = self.processor.lockdown() if self.processor.lockdown is not None else None
        if level is not Level.HOLD_ALL:
            return False
        queued = self.spool.count()
        if self.held_count is not None:
            queued += await self.held_count.aget()
        return queued >= self.settings.lockdown.max_held_messages

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.settings.smtp.max_recipients:
            return "452 4.5.3 Too many recipients"
        decision = self.policy.check_rcpt(address, trusted=self.trusted(session))
        if not decision.ok:
            log.info("refused rcpt %r from %s: %s", address, _peer_ip(session), decision.reply)
            return decision.reply
        if self.limiter is not None:
            refusal = await self.limiter.check_rcpt(
                _peer_ip(session), address, authenticated=bool(session.authenticated))
            if refusal is not None:
                return refusal.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return decision.reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or b""
        env = Envelope(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            peer_ip=_peer_ip(session),
            helo=str(session.host_name or ""),
            received_at=time.time(),
            authenticated_as=str(session.auth_data) if session.authenticated else None,
            tls=session.ssl is not None,
            internal=self.policy.is_internal(_peer_ip(session)),
        )
        try:
            entry_id = await asyncio.to_thread(self.spool.put, env, raw)
        except MailwardError as exc:
            log.error("spool failed for message from %s: %s", env.peer_ip, exc)
            return "451 4.3.0 Temporary failure storing the message, try again later"
        # Locked, so that the spool workers' sweep does not scan it a second time meanwhile;
        # not scanned here when a worker took it up before the lock (its state is kept).
        with self.spool.locked(entry_id) as mine:
            scan = mine and self.spool.untouched(entry_id)
            reply = await self._inline_scan(entry_id, env, raw) if scan else None
        if reply is not None:
            return reply
        self.on_queued(entry_id)
        return f"250 2.0.0 Ok: queued as {entry_id}"

    async def _inline_scan(self, entry_id: str, env: Envelope, raw: bytes) -> str | None:
        """Scan while the client waits; a reply here replaces the 250."""
        timeout = self.settings.smtp.inline_scan_timeout
        if timeout <= 0:
            return None
        try:
            # in this task (asyncio.timeout: one timer), not a task of its own (wait_for)
            async with asyncio.timeout(timeout):
                outcome = await self.engine.scan(raw, env)
        except TimeoutError:
            log.info("inline scan of %s exceeded %ss; finishing from the spool", entry_id, timeout)
            return None
        verdict = outcome.verdict
        if verdict.action in (Action.REJECT, Action.TEMPFAIL):
            # observed before the reply: this message never reaches the spool worker
            recorded = await self._record(entry_id, env, raw, outcome, observe=True)
            await asyncio.to_thread(self.spool.finish, entry_id)
            if not recorded:
                return _STORE_FAILED
            reason = _reply_text(verdict.reason)
            if verdict.action is Action.REJECT:
                return f"550 5.7.1 Message rejected as unsafe ({reason}); id {entry_id}"
            return f"451 4.7.1 Message cannot be checked now ({reason}); try again later"
        # The message-log row is written (it waits for its fsync) and the verdict kept with
        # the entry for its first delivery attempt, which follows in this process (in memory:
        # a crash before it has the entry scanned again; see Spool.keep_state); the
        # observation (activity, campaigns) is made after the 250, and the spool worker waits
        # for it before its checks (mailward.spool.observing).
        later = self.processor.later
        mark = later.mark()
        state = SpoolState(verdict=verdict_to_state(verdict), observe=mark)
        started = False
        try:
            saved = self.spool.keep_state(entry_id, state)
            if saved:
                recorded = await self._record(entry_id, env, raw, outcome, observe=False)
            else:  # not kept in memory (too big, or dropped): saved beside the row
                recorded, saved = await asyncio.gather(
                    self._record(entry_id, env, raw, outcome, observe=False),
                    self._save(entry_id, state))
            if not recorded:
                await asyncio.to_thread(self.spool.finish, entry_id)
                return _STORE_FAILED
            if saved:  # else the spool worker scans it again, and observes it then
                later.start(mark, entry_id, env, outcome)
                started = True
        finally:
            if not started:  # the client went away meanwhile, or a write failed
                later.drop(mark)
        return None

    async def _record(self, entry_id: str, env: Envelope, raw: bytes, outcome: ScanOutcome,
                      *, observe: bool) -> bool:
        """The message-log row (and the observation when ``observe``); False when the store
        failed (the caller finishes the entry and asks the client to try again)."""
        try:
            await asyncio.to_thread(self.processor.record, entry_id, env, raw, outcome,
                                    observe=observe)
        except MailwardError as exc:
            log.error("store failed for %s: %s", entry_id, exc)
            return False
        return True

    async def _save(self, entry_id: str, state: SpoolState) -> bool:
        try:
            await asyncio.to_thread(self.spool.save_state, entry_id, state)
        except MailwardError as exc:  # the message is safe in the spool; it will be re-scanned
            log.error("could not save verdict of %s: %s", entry_id, exc)
            return False
        return True


_STORE_FAILED = "451 4.3.0 Temporary failure recording the message, try again later"


def _reply_text(text: str) -> str:
    """Printable ASCII only, one line, bounded: safe inside an SMTP reply."""
    cleaned = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return cleaned[:200]
