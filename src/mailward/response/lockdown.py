"""Lockdown: tighten or hold mail at run time without losing a message.

Levels, from mildest:
  normal          the configured policy
  heightened      thresholds lowered, stricter force rules, external mail with links tagged
  hold-external   mail from or to outside the organisation waits in the durable spool;
                  internal mail flows (with the heightened policy)
  hold-all        everything accepted waits in the spool; past ``lockdown.max_held_messages``
                  new mail gets 4xx so senders retry later

The level lives in the store (so the CLI, the web console and every gateway node see the same
one) and survives restarts; every change is written to the audit log. Each process caches it for
a second; in a cluster (``[cluster] redis_url``) a change is also announced over Redis and every
node drops its cache at once (:mod:`mailward.cluster.notify`). ``release`` re-scans the
held backlog with the rules and policy in force now and delivers it in batches.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, select
from sqlalchemy.exc import SQLAlchemyError

from mailward.cluster.notify import LOCKDOWN, publish
from mailward.cluster.redis import RedisLink
from mailward.config.settings import Settings
from mailward.errors import StoreError
from mailward.model import Envelope
from mailward.store import Store
from mailward.store._engine import WRITE_OPTION, open_tables


class Level(enum.StrEnum):
    NORMAL = "normal"
    HEIGHTENED = "heightened"
    HOLD_EXTERNAL = "hold-external"
    HOLD_ALL = "hold-all"

    @property
    def tightened(self) -> bool:
        """Whether the heightened policy applies (it does at every level above normal)."""
        return self is not Level.NORMAL


LOCKDOWN_METADATA = MetaData()
lockdown_table = Table(
    "lockdown_state",
    LOCKDOWN_METADATA,
    Column("id", Integer, primary_key=True),
    Column("level", String(32), nullable=False),
    Column("changed_at", Float, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", String(2000), nullable=False),
)


@dataclass(frozen=True, slots=True)
class LockdownStatus:
    level: Level
    changed_at: float
    actor: str
    reason: str


class LockdownState:
    """The current level in the store, cached for ``cache_seconds`` per process."""

    def __init__(
        self, url: str, *, cache_seconds: float = 1.0,
        announce: Callable[[LockdownStatus], None] | None = None,
    ) -> None:
        self._engine = open_tables(url, LOCKDOWN_METADATA, "lockdown")
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, LockdownStatus] | None = None
        self._lock = threading.Lock()
        self._announce = announce

    @classmethod
    def for_settings(cls, settings: Settings, *, cache_seconds: float = 1.0) -> LockdownState:
        """The level in ``settings``' store; in a cluster, changes are announced to every node."""
        link = RedisLink.from_settings(settings)

        def announce(status: LockdownStatus) -> None:
            if link is not None:
                publish(link, LOCKDOWN, {"level": str(status.level),
                                         "changed_at": status.changed_at})

        return cls(settings.store_url, cache_seconds=cache_seconds,
                   announce=announce if link is not None else None)

    def invalidate(self) -> None:
        """Forget the cached level: the next look reads the store (a change was announced)."""
        with self._lock:
            self._cached = None

    def status(self) -> LockdownStatus:
        now = time.monotonic()
        with self._lock:
            if self._cached and now - self._cached[0] < self._cache_seconds:
                return self._cached[1]
        try:
            with self._engine.connect() as conn:
                row = conn.execute(select(lockdown_table).where(lockdown_table.c.id == 1)).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the lockdown level: {exc}") from exc
        status = (
            LockdownStatus(Level(row.level), row.changed_at, row.actor, row.reason)
            if row is not None
            else LockdownStatus(Level.NORMAL, 0.0, "", "")
        )
        with self._lock:
            self._cached = (now, status)
        return status

    def level(self) -> Level:
        return self.status().level

    def set(self, level: Level, *, actor: str, reason: str, store: Store) -> LockdownStatus:
        """Change the level and write the change to the audit log."""
        previous = self.status().level
        status = LockdownStatus(level, time.time(), actor, reason)
        values = {"level": str(level), "changed_at": status.changed_at,
                  "actor": actor, "reason": reason}
        try:
            conn_ctx = self._engine.connect().execution_options(**{WRITE_OPTION: True})
            with conn_ctx as conn, conn.begin():
                done = conn.execute(
                    lockdown_table.update().where(lockdown_table.c.id == 1).values(**values)
                )
                if done.rowcount == 0:
                    conn.execute(lockdown_table.insert().values(id=1, **values))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot change the lockdown level: {exc}") from exc
        store.audit(actor, f"lockdown {previous} -> {level}", "lockdown", (), reason)
        self.invalidate()
        if self._announce is not None:
            self._announce(status)
        return status

    def close(self) -> None:
        self._engine.dispose()


def is_external(envelope: Envelope, accepted_domains: tuple[str, ...]) -> bool:
    """Mail from or to outside the organisation: an outside client, or an outside recipient."""
    from_inside = envelope.internal or envelope.authenticated_as is not None
    to_outside = any(
        r.rpartition("@")[2].lower().rstrip(".") not in accepted_domains for r in envelope.rcpt_tos
    )
    return not from_inside or to_outside


def must_hold(level: Level, envelope: Envelope, accepted_domains: tuple[str, ...]) -> bool:
    if level is Level.HOLD_ALL:
        return True
    return level is Level.HOLD_EXTERNAL and is_external(envelope, accepted_domains)
