"""Zero-hour purge: when the threat feeds or the rules change, re-scan recently delivered mail
and claw back what now scores as quarantine or reject, as Microsoft's ZAP does.

Driven by the gateway's housekeeping: :class:`FeedWatcher` tells when the feed files changed,
:class:`RulesWatcher` when the configuration file or the YARA rules folder
(``[detectors.yara] rules_dir``) did (a reload follows, see :mod:`mailward.runtime.reload`).
Each purge is audited by the claw-back itself (actor ``mailward-zero-hour``) and logged with
the time it took from the change to the last copy removed. In a cluster every node sees the
change; one node runs the purge (:func:`mailward.cluster.jobs.once`) and the others skip it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mailward.cluster.jobs import exclusive, once, purge_key
from mailward.config.settings import Settings
from mailward.response.clawback import ClawbackResult, ClawbackTarget, clawback_tool
from mailward.response.hunt import rescan
from mailward.response.journal import Journal, JournalHit
from mailward.store import Store

if TYPE_CHECKING:
    from mailward.engine.pipeline import Engine

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


class Expander(Protocol):
    """What else to claw back with the flagged messages (the campaigns they belong to)."""

    def expand(self, flagged: Sequence[JournalHit], why: str) -> list[JournalHit]: ...


def claw_back_hits(
    settings: Settings, store: Store, hits: Sequence[JournalHit], *, actor: str, reason: str
) -> list[ClawbackResult]:
    """Claw back the delivered copies of journaled messages (blocking): the one claw-back
    path of the zero-hour purge and of a campaign found bad."""
    targets = [
        ClawbackTarget(h.message_id, h.recipients, spool_id=h.spool_id)
        for h in hits
        if h.message_id
    ]
    if not targets:
        return []
    with exclusive(settings, "clawback"):  # one claw-back at a time in a cluster
        return clawback_tool(settings, store).claw_back(targets, actor=actor, reason=reason)


async def zero_hour_purge(
    settings: Settings, journal: Journal, engine: Engine, store: Store, *, why: str,
    expander: Expander | None = None,
) -> ZeroHourReport:
    """Re-scan the last ``journal.zero_hour_hours`` of delivered mail; claw back what fails,
    and (with an ``expander``) what the expander adds: the other members of its campaigns.
    In a cluster, an empty report when another node ran the same purge."""
    files = (*settings.feeds.paths, *filter(None, [yara_rules_dir(settings)]))
    async with once(settings, "zero-hour", purge_key(settings, why, files=files)) as mine:
        if not mine:
            log.info("zero-hour purge (%s): another node ran it", why)
            return ZeroHourReport()
        return await _purge(settings, journal, engine, store, why, expander)


async def _purge(
    settings: Settings, journal: Journal, engine: Engine, store: Store, why: str,
    expander: Expander | None,
) -> ZeroHourReport:
    started = time.monotonic()
    since = time.time() - settings.journal.zero_hour_hours * 3600
    found = await rescan(journal, engine, since)
    report = ZeroHourReport(scanned=found.scanned, flagged=len(found.flagged))
    hits = [r.hit for r in found.flagged]
    if expander is not None and hits:
        try:
            more = await asyncio.to_thread(expander.expand, hits, why)
        except Exception:  # campaigns add to the purge; they never stop it
            log.exception("zero-hour purge: campaign expansion failed")
            more = []
        seen = {h.spool_id for h in hits}
        hits += [h for h in more if h.spool_id not in seen]
    if hits:
        report.results = await asyncio.to_thread(
            claw_back_hits, settings, store, hits, actor=ACTOR, reason=f"zero-hour purge: {why}"
        )
    report.seconds = time.monotonic() - started
    log.info(
        "zero-hour purge (%s): %d re-scanned, %d now malicious, %d clawed back (with their "
        "campaigns), %d copies removed in %.2f s",
        why, report.scanned, report.flagged, len(hits), report.removed, report.seconds,
    )
    return report


class FeedWatcher:
    """Tells when the threat feeds have changed since the last look.

    It asks the engine for its feeds at each look, so it follows a reload (which builds new
    feeds and purges by itself: the first look at new feeds only takes their version)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.feeds = engine.clients.get("feeds")
        self.seen = self.feeds.version if self.feeds is not None else 0

    def changed(self) -> bool:
        feeds = self.engine.clients.get("feeds")
        if feeds is None:
            self.feeds = None
            return False
        feeds.reload_if_changed()
        version: int = feeds.version
        if feeds is not self.feeds:
            self.feeds, self.seen = feeds, version
            return False
        if version == self.seen:
            return False
        self.seen = version
        return True


_YARA_SUFFIXES = (".yar", ".yara")


def yara_rules_dir(settings: Settings) -> Path | None:
    """The YARA rules folder of ``[detectors.yara] rules_dir`` (None when unset)."""
    folder = settings.detectors.get("yara", {}).get("rules_dir") or ""
    return Path(str(folder)) if folder else None


def file_digest(path: Path | None) -> str:
    """SHA-256 of a file's content; "" when there is no such file."""
    if path is None:
        return ""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def folder_digest(folder: Path | None, suffixes: tuple[str, ...] = _YARA_SUFFIXES) -> str:
    """SHA-256 over the names and contents of the rule files under ``folder`` ("" if none)."""
    if folder is None or not folder.is_dir():
        return ""
    digest = hashlib.sha256()
    try:
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes)
        for path in files:
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    except OSError:
        return "unreadable"
    return digest.hexdigest()


class RulesWatcher:
    """Tells when rules on disk changed since the last look: the configuration file (by
    content, so touching it changes nothing) and the YARA rules folder (names and contents)."""

    def __init__(self, config_path: Path | None, settings: Settings) -> None:
        self.config_path = config_path
        self.yara_dir = yara_rules_dir(settings)
        self.seen = self._look()

    def _look(self) -> dict[str, str]:
        return {"config": file_digest(self.config_path), "yara": folder_digest(self.yara_dir)}

    def changed(self) -> list[str]:
        """What changed since the last look: "config" and/or "yara" (empty: nothing)."""
        now = self._look()
        what = [key for key, digest in now.items() if self.seen.get(key) != digest]
        self.seen = now
        return what

    def describe(self, key: str) -> str:
        if key == "yara":
            return f"YARA rules folder {self.yara_dir}"
        return f"configuration file {self.config_path}"

    def follow(self, settings: Settings) -> None:
        """After a reload: watch the new settings' YARA folder, from its present content."""
        folder = yara_rules_dir(settings)
        if folder != self.yara_dir:
            self.yara_dir = folder
            self.seen["yara"] = folder_digest(folder)
