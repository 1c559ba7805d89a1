"""End of message in milter mode: scan, decide and answer the MTA, with the relay path's parts.

The message stays in the MTA's queue, so nothing is spooled for mail that is delivered; what
mailward takes over (a quarantined original, a lockdown hold) is stored durably before the MTA
is told to discard it. Verdicts become milter replies:

==========  ===============================================================================
deliver     headers as relay mode writes them (verdict, Authentication-Results, forged ones
            stripped), then continue
tag         the same, with the Subject tag
disarm      original quarantined; headers and body (SMFIR_REPLBODY) of the disarmed copy
quarantine  ``milter.hold = "mailward"``: kept in mailward's quarantine, SMFIR_DISCARD;
            ``"postfix"``: SMFIR_QUARANTINE (Postfix's hold queue) with the verdict headers
reject      SMFIR_REPLYCODE 550 5.7.1 with the reason and mailward's id
tempfail    SMFIR_REPLYCODE 451 4.7.1 (also: scan past ``milter.scan_timeout``, engine or
            store error); the MTA's client retries, nothing passes unscanned
lockdown    a hold level: the message waits in mailward's spool (released to
            ``milter.reinject`` by `mailward lockdown release`) or in Postfix's hold queue
==========  ===============================================================================
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field

from mailward.cluster.backlog import HeldCount
from mailward.config.settings import Settings
from mailward.disarm import disarm_message, removed_summary
from mailward.engine.pipeline import Engine
from mailward.frontends.milter import protocol as p
from mailward.frontends.milter.edits import Header, message_edits, raw_message
from mailward.frontends.milter.ids import milter_id
from mailward.frontends.smtp.relay_policy import RelayPolicy
from mailward.model import Action, Envelope, Verdict
from mailward.policy.rewrite import apply_verdict, strip_inbound_headers
from mailward.response.indicators import relay_location
from mailward.response.lockdown import Level, must_hold
from mailward.spool.processor import Processor, trusted_authserv_ids
from mailward.spool.queue import SpoolEntry, SpoolState

log = logging.getLogger(__name__)



@dataclass
class MilterMessage:
    """What the MTA told about one message and its connection."""

    macros: dict[str, str] = field(default_factory=dict)
    client_addr: str = ""
    client_name: str = ""
    helo: str = ""
    mail_from: str = ""
    rcpts: list[str] = field(default_factory=list)
    headers: list[Header] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    leading_space: bool = True

    @property
    def queue_id(self) -> str:
        return self.macros.get("i", "")

    def raw(self) -> bytes:
        return raw_message(self.headers, bytes(self.body), leading_space=self.leading_space)


def _tempfail(why: str) -> list[bytes]:
    return [p.reply_code(f"451 4.7.1 Message cannot be checked now ({why}); try again later")]


def _reply_text(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)[:200]


class MilterVerdicts:
    """Scans one message at end of message and gives the replies for the MTA."""

    def __init__(self, settings: Settings, engine: Engine, processor: Processor,
                 held_count: HeldCount | None = None) -> None:
        self.settings = settings
        self.held_count = held_count  # in a cluster: the shared held backlog
        self.engine = engine
        self.processor = processor
        self.store = processor.store
        self.spool = processor.spool
        self.policy = RelayPolicy(
            settings.organisation.accepted_domains, settings.organisation.internal_networks
        )

    def envelope(self, msg: MilterMessage) -> Envelope:
        peer = msg.macros.get("client_addr") or msg.client_addr
        user = msg.macros.get("auth_authen") or None
        return Envelope(
            mail_from=msg.mail_from, rcpt_tos=tuple(msg.rcpts), peer_ip=peer,
            helo=msg.helo, received_at=time.time(), authenticated_as=user,
            tls=bool(msg.macros.get("tls_version")), internal=self.policy.is_internal(peer),
        )

    async def end_of_message(self, msg: MilterMessage) -> list[bytes]:
        """The modification actions and the final reply for one message."""
        env = self.envelope(msg)
        raw = msg.raw()
        entry_id = milter_id(msg.queue_id, env.received_at)
        log.info("milter: %s is postfix queue id %s, from %s (%s) helo=%s", entry_id,
                 msg.queue_id or "-", env.peer_ip, msg.client_name or "-", env.helo or "-")
        try:
            level = self.processor.lockdown() if self.processor.lockdown else Level.NORMAL
            if must_hold(level, env, self.settings.organisation.accepted_domains):
                return await self._hold(entry_id, env, raw, msg, level)
            outcome = await asyncio.wait_for(
                self.engine.scan(raw, env), self.settings.milter.scan_timeout
            )
            await asyncio.to_thread(self.processor.record, entry_id, env, raw, outcome)
            return await self._act(entry_id, env, raw, msg, outcome.verdict)
        except TimeoutError:
            log.warning("milter: scan of %s exceeded %gs: tempfail", entry_id,
                        self.settings.milter.scan_timeout)
            return _tempfail("scan timed out")
        except Exception:  # engine, store or spool trouble: the MTA keeps it and retries
            log.exception("milter: %s could not be decided: tempfail", entry_id)
            return _tempfail("internal error")

    async def _act(
        self, entry_id: str, env: Envelope, raw: bytes, msg: MilterMessage, verdict: Verdict
    ) -> list[bytes]:
        action = verdict.action
        log.info("milter: %s (queue id %s): %s, score %g: %s", entry_id, msg.queue_id or "-",
                 action, verdict.score, verdict.reason)
        if action is Action.REJECT:
            reason = _reply_text(verdict.reason)
            return [p.reply_code(f"550 5.7.1 Message rejected as unsafe ({reason}); id {entry_id}")]
        if action is Action.TEMPFAIL:
            return _tempfail(_reply_text(verdict.reason))
        if action in (Action.QUARANTINE, Action.HOLD):
            return await self._quarantine(entry_id, env, raw, msg, verdict)
        source = raw
        if action is Action.DISARM:
            await self._keep_original(entry_id, raw, verdict)
            result = await asyncio.to_thread(disarm_message, raw, quarantine_id=entry_id)
            removed = removed_summary(result.removed) or "active content in the HTML"
            verdict = dataclasses.replace(
                verdict, add_headers=(*verdict.add_headers, ("X-Mailward-Disarmed", removed))
            )
            source = result.raw
        edits = self.rewrite(msg, source, verdict)
        entry = SpoolEntry(entry_id, env, raw, {"queue_id": msg.queue_id})
        copies = [(r, relay_location(f"postfix {msg.queue_id}")) for r in env.rcpt_tos]
        await self.processor.delivered_elsewhere(entry, verdict, copies)
        return [*edits, p.encode(p.CONTINUE)]

    def rewrite(self, msg: MilterMessage, source: bytes, verdict: Verdict) -> list[bytes]:
        """Header and body actions giving the copy relay mode would deliver for ``verdict``."""
        stripped, removed = strip_inbound_headers(
            source, self.settings.policy.strip_inbound_headers,
            trusted_authserv_ids(self.settings),
        )
        if removed:
            log.info("milter: removing %d inbound verdict headers", len(removed))
        authserv_id = self.settings.organisation.authserv_id
        target = apply_verdict(stripped, verdict, authserv_id=authserv_id)
        return message_edits(msg.headers, bytes(msg.body), target,
                             prepended=len(verdict.add_headers), leading_space=msg.leading_space)

    async def _keep_original(self, entry_id: str, raw: bytes, verdict: Verdict) -> None:
        rec = await asyncio.to_thread(self.store.get_message, entry_id)
        if rec is None:
            raise RuntimeError(f"{entry_id} is not in the message log")
        rec = dataclasses.replace(
            rec, action=str(verdict.action), reason=verdict.reason, score=verdict.score
        )
        await asyncio.to_thread(self.store.record_message, rec)
        await asyncio.to_thread(self.store.quarantine, rec, raw)

    async def _quarantine(
        self, entry_id: str, env: Envelope, raw: bytes, msg: MilterMessage, verdict: Verdict
    ) -> list[bytes]:
        if self.settings.milter.hold == "postfix":
            headers = (("X-Mailward-Verdict", f"{verdict.action}; score={verdict.score:g}"),)
            held = dataclasses.replace(verdict, add_headers=headers, subject_prefix=None)
            reason = _reply_text(f"mailward {entry_id}: {verdict.reason}")
            return [*self.rewrite(msg, raw, held), p.quarantine(reason), p.encode(p.CONTINUE)]
        await self._keep_original(entry_id, raw, verdict)
        log.info("milter: quarantined %s (queue id %s), discarded in the MTA", entry_id,
                 msg.queue_id or "-")
        return [p.encode(p.DISCARD)]

    async def _hold(
        self, entry_id: str, env: Envelope, raw: bytes, msg: MilterMessage, level: Level
    ) -> list[bytes]:
        """Lockdown: the message waits undelivered until `mailward lockdown release`."""
        if self.settings.milter.hold == "postfix":
            log.info("milter: lockdown %s: %s to Postfix's hold queue", level, entry_id)
            return [p.quarantine(f"mailward lockdown {level}: {entry_id}"),
                    p.encode(p.CONTINUE)]
        queued = self.spool.count()
        if self.held_count is not None:
            queued += await self.held_count.aget()
        if queued >= self.settings.lockdown.max_held_messages:
            return [p.reply_code("452 4.3.1 Mail is held for maintenance and the queue is "
                                 "full; try again later")]
        state = SpoolState(held=True)
        flags = {"reinject": True, "queue_id": msg.queue_id}
        await asyncio.to_thread(self.spool.put, env, raw, flags=flags, entry_id=entry_id,
                                state=state)
        log.info("milter: lockdown %s: held %s (queue id %s) in the spool; discarded in the MTA",
                 level, entry_id, msg.queue_id or "-")
        return [p.encode(p.DISCARD)]
