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
import contextlib
import sqlite3
import threading
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
    bindparam,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from mailward.errors import StoreError
from mailward.store._engine import WRITE_OPTION, open_tables

__all__ = [
    "MemorySenderHistory", "SenderHistory", "SenderStats", "SqlSenderHistory",
    "SqlitePointReader",
]

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


#: The point read of :meth:`SqlSenderHistory.point_reader`, compiled once for SQLite.
_SEEN_SQLITE = str(
    select(sender_history.c.first_seen, sender_history.c.last_seen, sender_history.c.count)
    .where(sender_history.c.address == bindparam("address"))
    .compile(dialect=sqlite.dialect())
)


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

    def point_reader(self) -> SqlitePointReader | None:
        """A blocking :meth:`seen_sync` for a SQLite database, on one connection held for the
        caller's thread, without SQLAlchemy's statement and pool work per call (a point read
        of the primary key, a few microseconds instead of a few hundred; WAL: it never waits
        for the writer). Each read is its own transaction (run to its end), so it sees every
        commit made before it. None for other databases (use :meth:`seen`)."""
        if self._engine.dialect.name != "sqlite":
            return None
        return SqlitePointReader(self._engine)

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


class SqlitePointReader:
    """:meth:`SqlSenderHistory.point_reader`: ``seen`` blocking, on one DBAPI connection of
    the engine, opened on the first read and again after an error; for one thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Any = None
        self._owner = threading.get_ident()

    def seen(self, address: str) -> SenderStats | None:
        if threading.get_ident() != self._owner:
            raise StoreError("the sender history's point reader is for one thread")
        try:
            if self._conn is None:
                self._conn = self._engine.raw_connection()
            # fetchall: the statement runs to its end, so no read transaction stays open
            # (a held one would pin the WAL and see no newer commit)
            rows = self._conn.cursor().execute(_SEEN_SQLITE, (_key(address),)).fetchall()
        except (sqlite3.Error, SQLAlchemyError) as exc:
            self._drop()
            raise StoreError(f"cannot read sender history: {exc}") from exc
        if not rows:
            return None
        first, last, count = rows[0]
        return SenderStats(float(first), float(last), int(count))

    def close(self) -> None:
        """Give the held connection back (the engine's dispose closes it)."""
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error, SQLAlchemyError):
                conn.close()
