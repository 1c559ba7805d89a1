"""Hunting delivered mail: by indicator from the journal's indexes, or by re-scanning.

- :func:`hunt` answers a :class:`HuntQuery` (URL, domain, hash, sender, subject, Message-ID;
  several at once are OR-ed) with the journaled messages that match, newest first, each with
  where its copies went. A domain matches link hosts, links' registrable domains and sender
  domains; a sender without "@" is read as a sender domain; a subject matches as a
  case-insensitive substring (``*`` wildcard) and by fingerprint (digits and spacing ignored).
- :func:`rescan` re-runs an engine (today's rules) over the journal's raw messages in a time
  window and returns those it would now quarantine or reject: the claw-back candidates.
  The raw bytes are the message as received, so the re-scan sees what the first scan saw;
  messages whose bytes were purged are counted, not scanned.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mailward.feeds import normalise_domain
from mailward.mime import registrable_domain
from mailward.model import Action, Envelope, Verdict
from mailward.response._keys import subject_fingerprint
from mailward.response.journal import Journal, JournalHit

if TYPE_CHECKING:
    from mailward.engine.pipeline import Engine

__all__ = ["CLAWBACK_ACTIONS", "HuntQuery", "RescanReport", "RescanResult", "hunt", "rescan"]

#: A message delivered earlier that the engine now gives one of these should be clawed back.
CLAWBACK_ACTIONS = frozenset({Action.QUARANTINE, Action.REJECT})


@dataclass(frozen=True, slots=True)
class HuntQuery:
    """What to look for (any number of indicators, OR-ed) and in which window [since, until)."""

    url: str | None = None
    domain: str | None = None
    hash: str | None = None
    sender: str | None = None
    subject: str | None = None
    message_id: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 1000

    def lookups(self) -> list[tuple[str, str]]:
        """The exact (kind, value) index lookups this query needs."""
        out: list[tuple[str, str]] = []
        if self.url:
            out.append(("url", self.url))
        if self.domain:
            host = normalise_domain(self.domain) or self.domain
            out += [("host", host), ("domain", registrable_domain(host)),
                    ("sender_domain", host)]
        if self.hash:
            out.append(("hash", self.hash))
        if self.sender:
            out.append(("sender" if "@" in self.sender else "sender_domain", self.sender))
        if self.subject:
            out.append(("subject_fp", subject_fingerprint(self.subject)))
        if self.message_id:
            out.append(("message_id", self.message_id))
        return out

    @property
    def empty(self) -> bool:
        return not (self.lookups() or self.subject)


def hunt(journal: Journal, query: HuntQuery) -> list[JournalHit]:
    """Journaled messages matching ``query``, newest first, at most ``query.limit``."""
    merged: dict[int, JournalHit] = {}
    found: list[list[JournalHit]] = [
        journal.find(kind, value, query.since, query.until, query.limit)
        for kind, value in dict.fromkeys(query.lookups())
    ]
    if query.subject:
        found.append(journal.find_subject(query.subject, query.since, query.until, query.limit))
    for hits in found:
        for hit in hits:
            old = merged.get(hit.journal_id)
            if old is None:
                merged[hit.journal_id] = hit
            else:
                matched = tuple(dict.fromkeys((*old.matched, *hit.matched)))
                merged[hit.journal_id] = replace(old, matched=matched)
    ordered = sorted(merged.values(), key=lambda h: (h.received_at, h.journal_id), reverse=True)
    return ordered[: query.limit]


@dataclass(frozen=True, slots=True)
class RescanResult:
    """One journaled message and what the engine decides about it now."""

    hit: JournalHit
    verdict: Verdict

    @property
    def flagged(self) -> bool:
        return self.verdict.action in CLAWBACK_ACTIONS

    def to_json(self) -> dict[str, object]:
        data = self.hit.to_json()
        data["was_action"] = data.pop("action")
        data.update(
            {f"now_{k}": v for k, v in self.verdict.to_json().items() if k != "findings"}
        )
        data["findings"] = self.verdict.to_json()["findings"]
        return data


@dataclass(slots=True)
class RescanReport:
    """What a re-scan went through: how many messages, how many had no bytes left, which
    ones would now be clawed back."""

    scanned: int = 0
    missing_raw: int = 0
    flagged: list[RescanResult] = field(default_factory=list)


def envelope_of(hit: JournalHit) -> Envelope:
    """The envelope a journaled message arrived with (as far as the journal keeps it)."""
    return Envelope(
        mail_from=hit.mail_from, rcpt_tos=hit.recipients, peer_ip=hit.peer_ip or "127.0.0.1",
        received_at=hit.received_at,
    )


async def rescan(
    journal: Journal, engine: Engine, since: float | None, until: float | None = None
) -> RescanReport:
    """Re-scan the raw messages journaled in [since, until) with ``engine``; collect those
    now quarantined or rejected, oldest first."""
    report = RescanReport()
    hits = await asyncio.to_thread(lambda: list(journal.iter_window(since, until)))
    for hit in hits:
        raw = await asyncio.to_thread(journal.raw, hit.journal_id)
        if raw is None:
            report.missing_raw += 1
            continue
        outcome = await engine.scan(raw, envelope_of(hit))
        report.scanned += 1
        result = RescanResult(hit, outcome.verdict)
        if result.flagged:
            report.flagged.append(result)
    return report
