"""Configuration reload of a running gateway (``kill -HUP``, ``mailward reload``, or a changed
configuration file / YARA rules folder when ``journal.watch_config`` is on).

A reload loads and validates the settings again (same file, same environment), builds a new
engine from them through the gateway's one engine builder, and swaps it in for the SMTP
handler, the spool processor and the zero-hour watcher at once (:class:`EngineSlot`); the
replaced engine is closed after its last in-flight scan. Settings the running process cannot
change (:data:`RESTART_ONLY`: listen address and the rest of [smtp], data_dir, the store,
worker count, journal on/off) are kept as they were and reported as needing a restart.

An invalid new configuration (bad TOML, unknown key, bad value, a detector that refuses its
settings) is logged with the problem and audited, and the gateway keeps running on the old one.
Each reload is audited (action ``reload``: who asked, a digest of the new settings, the keys
that changed). When rules changed (any live setting, or the YARA rule files) the zero-hour
purge re-scans recent mail and claws back what now fails (why = "rules changed").
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine
from mailward.frontends.smtp.relay_policy import RelayPolicy
from mailward.response.zero_hour import RulesWatcher, zero_hour_purge

if TYPE_CHECKING:
    from mailward.frontends.smtp.handler import GatewayHandler
    from mailward.runtime.gateway import Gateway

__all__ = ["RESTART_ONLY", "ReloadReport", "Reloader", "settings_changes", "settings_digest"]

log = logging.getLogger(__name__)

#: Settings (dotted prefixes) that only take effect at the next start.
RESTART_ONLY = ("data_dir", "store", "smtp", "engine.workers", "journal.enabled",
                "ratelimit.redis_url", "ratelimit.key_prefix")
_MISSING = object()
_SHOWN_KEYS = 20


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):  # an empty table adds no key: {} and absent are alike
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def settings_changes(old: Settings, new: Settings) -> list[str]:
    """The dotted keys whose values differ (secrets compared, never shown), sorted."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(old.model_dump(exclude_none=True), "", a)
    _flatten(new.model_dump(exclude_none=True), "", b)
    return sorted(k for k in a.keys() | b.keys() if a.get(k, _MISSING) != b.get(k, _MISSING))


def needs_restart(key: str) -> bool:
    return any(key == p or key.startswith(p + ".") for p in RESTART_ONLY)


def settings_digest(settings: Settings) -> str:
    """A short digest of the settings (secrets included), to tell configurations apart."""
    return hashlib.sha256(repr(settings.model_dump()).encode()).hexdigest()[:12]


def keep_restart_only(old: Settings, new: Settings) -> Settings:
    """``new`` with every :data:`RESTART_ONLY` setting as in ``old``."""
    return new.model_copy(update={
        "data_dir": old.data_dir,
        "store": old.store,
        "smtp": old.smtp,
        "engine": new.engine.model_copy(update={"workers": old.engine.workers}),
        "journal": new.journal.model_copy(update={"enabled": old.journal.enabled}),
        "ratelimit": new.ratelimit.model_copy(update={
            "redis_url": old.ratelimit.redis_url, "key_prefix": old.ratelimit.key_prefix}),
    })


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN_KEYS])
    more = len(keys) - _SHOWN_KEYS
    return shown + (f" and {more} more" if more > 0 else "") if keys else "nothing"


@dataclass
class ReloadReport:
    """What one reload did."""

    who: str
    ok: bool
    digest: str = ""
    changed: list[str] = field(default_factory=list)
    restart: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    error: str = ""
    purged: int = 0

    def summary(self) -> str:
        if not self.ok:
            return f"reload refused, still on the old configuration: {self.error}"
        text = f"changed: {_listing(self.changed)}"
        if self.files:
            text += f"; files changed: {', '.join(self.files)}"
        if self.restart:
            text += f"; kept until restart: {_listing(self.restart)}"
        return text


class Reloader:
    """Reloads a running gateway's configuration; one reload at a time."""

    def __init__(
        self,
        gw: Gateway,
        load: Callable[[], Settings],
        build: Callable[[Settings], Engine],
        watcher: RulesWatcher,
        handler: GatewayHandler | None = None,
    ) -> None:
        self.gw = gw
        self.load = load
        self.build = build
        self.watcher = watcher
        self.handler = handler
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    async def tick(self, signalled: bool) -> ReloadReport | None:
        """One housekeeping look: reload on SIGHUP, or when watched files changed."""
        watching = self.gw.settings.journal.watch_config
        changed = await asyncio.to_thread(self.watcher.changed) if signalled or watching else []
        files = [self.watcher.describe(key) for key in changed]
        if signalled:
            return await self.reload("SIGHUP", files, rules="yara" in changed)
        if changed:
            return await self.reload(" and ".join(files) + " changed", files,
                                     rules="yara" in changed)
        return None

    async def reload(
        self, who: str, files: list[str] | None = None, *, rules: bool = True
    ) -> ReloadReport:
        """Reload now; ``files`` are the watched files seen changed, ``rules`` whether rule
        files (YARA) changed, so a purge is due even when no setting did."""
        async with self._lock:
            report = await self._reload(who, list(files or ()))
        await self._audit(report)
        if report.ok and (report.changed or rules):
            report.purged = await self._purge()
        return report

    async def _reload(self, who: str, files: list[str]) -> ReloadReport:
        old = self.gw.settings
        try:
            new = await asyncio.to_thread(self.load)
            changed = settings_changes(old, new)
            effective = keep_restart_only(old, new)
            engine = await asyncio.to_thread(self.build, effective)
        except Exception as exc:  # anything wrong with the new configuration: keep the old
            log.error("configuration reload (%s) failed; still running on the old "
                      "configuration: %s", who, exc)
            return ReloadReport(who, ok=False, error=str(exc) or type(exc).__name__)
        report = ReloadReport(
            who, ok=True, digest=settings_digest(effective), files=files,
            changed=[k for k in changed if not needs_restart(k)],
            restart=[k for k in changed if needs_restart(k)],
        )
        self._apply(effective, engine)
        await asyncio.to_thread(self.watcher.follow, effective)
        log.info("configuration reloaded (%s): %s", who, report.summary())
        for key in report.restart:
            log.warning("setting %s changed but needs a restart; the old value stays", key)
        return report

    def _apply(self, settings: Settings, engine: Engine) -> None:
        gw = self.gw
        old_engine = gw.engine.swap(engine)
        gw.settings = settings
        gw.processor.settings = settings
        if self.handler is not None:
            org = settings.organisation
            self.handler.settings = settings
            self.handler.policy = RelayPolicy(org.accepted_domains, org.internal_networks)
            if self.handler.limiter is not None:  # the milter's too: it is the same object
                self.handler.limiter.update(settings.ratelimit, org.internal_networks)
        task = asyncio.create_task(gw.engine.retire(old_engine), name="retire-engine")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _audit(self, report: ReloadReport) -> None:
        action = "reload" if report.ok else "reload-failed"
        object_id = f"config {report.digest}" if report.ok else "config"
        try:
            await asyncio.to_thread(
                self.gw.store.audit, f"mailward-reload ({report.who})", action, object_id, [],
                report.summary()[:2000],
            )
        except Exception:
            log.exception("could not audit the configuration reload")

    async def _purge(self) -> int:
        gw = self.gw
        if gw.journal is None or gw.settings.journal.zero_hour_hours <= 0:
            log.info("rules changed; zero-hour purge is off (journal.zero_hour_hours = 0)")
            return 0
        try:
            found = await zero_hour_purge(
                gw.settings, gw.journal, gw.engine, gw.store, why="rules changed",
                expander=gw.campaigns,
            )
        except Exception:
            log.exception("zero-hour purge after the reload failed")
            return 0
        return found.removed

    async def close(self) -> None:
        """Wait for replaced engines to be closed."""
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)
