"""Sender history: which sender addresses an organisation has received mail from, and when.

The impersonation detector asks :meth:`SenderHistory.seen` to spot a first-time sender; the
gateway calls :meth:`SenderHistory.record` after delivery. Two implementations:

- :class:`SqlSenderHistory` on SQLAlchemy Core, in its own table ``sender_history`` (created if
  missing), SQLite (WAL) by default or PostgreSQL; blocking calls run in a worker thread;
- :class:`MemorySenderHistory`, a dict, for tests and one-shot scans.

Addresses are compared lower-cased and stripped. Failures of the SQL store raise
:class:`mailward.errors.StoreError`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    RowMapping,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from mailward.errors import StoreError
from mailward.store._engine import WRITE_OPTION, open_tables

__all__ = ["MemorySenderHistory", "SenderHistory", "SenderStats", "SqlSenderHistory"]

HISTORY_METADATA = MetaData()

sender_history = Table(
    "sender_history",
    HISTORY_METADATA,
    Column("address", String(320), primary_key=True),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("count", Integer, nullable=False),
)


def _upsert_statement(dialect: Any, least: Any, greatest: Any) -> Any:
    """One INSERT ... ON CONFLICT DO UPDATE that records a sighting (what _merge computes:
    the earliest first, the latest last, one more), built once: each sender only binds."""
    stmt = dialect.insert(sender_history)
    row = sender_history.c
    return stmt.on_conflict_do_update(index_elements=["address"], set_={
        "first_seen": least(row.first_seen, stmt.excluded.first_seen),
        "last_seen": greatest(row.last_seen, stmt.excluded.last_seen),
        "count": row.count + 1,
    })


# SQLite's two-argument min()/max() are its least/greatest.
_UPSERT_LITE = _upsert_statement(sqlite, func.min, func.max)
_UPSERT_PG = _upsert_statement(postgresql, func.least, func.greatest)


@dataclass(frozen=True, slots=True)
class SenderStats:
    """What is known about one sender address: first and last time seen (epoch s), how often."""

    first_seen: float
    last_seen: float
    count: int


class SenderHistory(Protocol):
    """Read and record the senders an organisation has received mail from."""

    async def seen(self, address: str) -> SenderStats | None: ...

    async def record(self, address: str, at: float) -> None: ...


def _key(address: str) -> str:
    return address.strip().lower()


def _row_stats(row: RowMapping) -> SenderStats:
    return SenderStats(float(row["first_seen"]), float(row["last_seen"]), int(row["count"]))


def _merge(old: SenderStats | None, at: float) -> SenderStats:
    if old is None:
        return SenderStats(first_seen=at, last_seen=at, count=1)
    return SenderStats(min(old.first_seen, at), max(old.last_seen, at), old.count + 1)


class MemorySenderHistory:
    """Sender history in a dict (tests, one-shot scans); optionally pre-filled."""

    def __init__(self, known: dict[str, SenderStats] | None = None) -> None:
        self._stats: dict[str, SenderStats] = {_key(a): s for a, s in (known or {}).items()}

    async def seen(self, address: str) -> SenderStats | None:
        return self._stats.get(_key(address))

    async def record(self, address: str, at: float) -> None:
        key = _key(address)
        self._stats[key] = _merge(self._stats.get(key), at)


class SqlSenderHistory:
    """Sender history in the ``sender_history`` table of a SQLAlchemy database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine = open_tables(url, HISTORY_METADATA, "sender_history")

    def close(self) -> None:
        self._engine.dispose()

    async def seen(self, address: str) -> SenderStats | None:
        return await asyncio.to_thread(self.seen_sync, address)

    async def record(self, address: str, at: float) -> None:
        await asyncio.to_thread(self.record_sync, address, at)

    def seen_sync(self, address: str) -> SenderStats | None:
        """Blocking form of :meth:`seen`."""
        query = select(sender_history).where(sender_history.c.address == _key(address))
        try:
            with self._engine.connect() as conn:
                row = conn.execute(query).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read sender history: {exc}") from exc
        return None if row is None else _row_stats(row._mapping)

    def record_sync(self, address: str, at: float) -> None:
        """Blocking form of :meth:`record`: one upsert statement (atomic, so concurrent
        first sightings of an address cannot collide)."""
        try:
            options = {WRITE_OPTION: True}
            with self._engine.connect().execution_options(**options) as conn, conn.begin():
                self.record_in(conn, address, at)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot record sender: {exc}") from exc

    @staticmethod
    def record_in(conn: Connection, address: str, at: float) -> None:
        """:meth:`record_sync` in the caller's transaction on a connection to the same
        database (the journal entry of the delivered message: one commit for both)."""
        values = {"address": _key(address), "first_seen": at, "last_seen": at, "count": 1}
        upsert = _UPSERT_PG if conn.dialect.name == "postgresql" else _UPSERT_LITE
        conn.execute(upsert, values)
