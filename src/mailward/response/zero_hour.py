"""Zero-hour purge: when the threat feeds change, re-scan recently delivered mail and claw back
what now scores as quarantine or reject, as Microsoft's ZAP does.

Driven by the gateway's housekeeping; each purge is audited by the claw-back itself (actor
``mailward-zero-hour``) and logged with the time it took from the feed change to the last copy
removed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine
from mailward.response.clawback import ClawbackResult, ClawbackTarget, clawback_tool
from mailward.response.hunt import rescan
from mailward.response.journal import Journal
from mailward.store import Store

log = logging.getLogger(__name__)
ACTOR = "mailward-zero-hour"


@dataclass
class ZeroHourReport:
    scanned: int = 0
    flagged: int = 0
    results: list[ClawbackResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def removed(self) -> int:
        return sum(1 for r in self.results if r.status == "removed")


async def zero_hour_purge(
    settings: Settings, journal: Journal, engine: Engine, store: Store, *, why: str
) -> ZeroHourReport:
    """Re-scan the last ``journal.zero_hour_hours`` of delivered mail; claw back what fails."""
    started = time.monotonic()
    since = time.time() - settings.journal.zero_hour_hours * 3600
    found = await rescan(journal, engine, since)
    report = ZeroHourReport(scanned=found.scanned, flagged=len(found.flagged))
    targets = [
        ClawbackTarget(r.hit.message_id, r.hit.recipients, spool_id=r.hit.spool_id)
        for r in found.flagged
        if r.hit.message_id
    ]
    if targets:
        tool = clawback_tool(settings, store)
        reason = f"zero-hour purge: {why}"
        report.results = await asyncio.to_thread(
            tool.claw_back, targets, actor=ACTOR, reason=reason
        )
    report.seconds = time.monotonic() - started
    log.info(
        "zero-hour purge (%s): %d re-scanned, %d now malicious, %d copies removed in %.2f s",
        why, report.scanned, report.flagged, report.removed, report.seconds,
    )
    return report


class FeedWatcher:
    """Tells when the threat feeds have changed since the last look."""

    def __init__(self, engine: Engine) -> None:
        self.feeds = engine.clients.get("feeds")
        self.seen = self.feeds.version if self.feeds is not None else 0

    def changed(self) -> bool:
        if self.feeds is None:
            return False
        self.feeds.reload_if_changed()
        if self.feeds.version == self.seen:
            return False
        self.seen = self.feeds.version
        return True
