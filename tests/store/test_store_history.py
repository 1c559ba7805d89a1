"""Sender history: SQL (SQLite, and PostgreSQL when configured) and in-memory implementations."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbreset import BACKENDS as SQL_BACKENDS
from dbreset import empty_postgres, pg_url

from mailward.errors import StoreError
from mailward.store.history import (
    MemorySenderHistory,
    SenderHistory,
    SenderStats,
    SqlSenderHistory,
)

BACKENDS = ["memory", *SQL_BACKENDS]


@pytest.fixture(params=BACKENDS)
def history(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SenderHistory]:
    if request.param == "memory":
        yield MemorySenderHistory()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'history.db'}"
    else:
        url = pg_url()
        empty_postgres(url)
    opened = SqlSenderHistory(url)
    yield opened
    opened.close()


def test_unknown_sender_is_not_seen(history: SenderHistory) -> None:
    assert asyncio.run(history.seen("nobody@example.net")) is None


def test_record_counts_and_keeps_first_and_last_time(history: SenderHistory) -> None:
    async def go() -> SenderStats | None:
        await history.record("Alice@Example.NET", 200.0)
        await history.record(" alice@example.net", 300.0)
        await history.record("alice@example.net", 100.0)  # late arrival of an older message
        await history.record("bob@example.net", 50.0)
        return await history.seen("ALICE@example.net")

    assert asyncio.run(go()) == SenderStats(first_seen=100.0, last_seen=300.0, count=3)
    assert asyncio.run(history.seen("bob@example.net")) == SenderStats(50.0, 50.0, 1)


def test_sqlite_history_persists_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    first = SqlSenderHistory(f"sqlite:///{path}")
    asyncio.run(first.record("carol@example.org", 10.0))
    first.close()
    second = SqlSenderHistory(f"sqlite:///{path}")  # the table exists: created only if missing
    assert asyncio.run(second.seen("carol@example.org")) == SenderStats(10.0, 10.0, 1)
    second.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_memory_history_can_start_filled() -> None:
    known = MemorySenderHistory({"Dave@Example.org": SenderStats(1.0, 2.0, 5)})
    assert asyncio.run(known.seen("dave@example.org")) == SenderStats(1.0, 2.0, 5)
    assert asyncio.run(known.seen("eve@example.org")) is None


def test_bad_url_raises_store_error() -> None:
    with pytest.raises(StoreError):
        SqlSenderHistory("mysql://nowhere/db")


def test_concurrent_sightings_of_a_new_sender_are_all_counted(tmp_path: Path) -> None:
    """One upsert per sighting: threads recording a first-time sender at once never collide."""
    history = SqlSenderHistory(f"sqlite:///{tmp_path / 'history.db'}")
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: history.record_sync("new@example.net", float(n)), range(80)))
        assert asyncio.run(history.seen("new@example.net")) == SenderStats(0.0, 79.0, 80)
    finally:
        history.close()


# -- the point reader (a scan process's read of a SQLite history) ------------------------------


def test_point_reader_answers_as_seen_sync_and_sees_later_commits(tmp_path: Path) -> None:
    sql = SqlSenderHistory(f"sqlite:///{tmp_path / 'history.db'}")
    reader = sql.point_reader()
    assert reader is not None
    try:
        assert reader.seen("new@partner.example.net") is None
        sql.record_sync("New@Partner.example.net", 10.0)  # another connection commits
        sql.record_sync("new@partner.example.net", 20.0)
        assert reader.seen(" NEW@partner.example.net ") == sql.seen_sync(
            "new@partner.example.net") == SenderStats(10.0, 20.0, 2)
        assert reader.seen("other@partner.example.net") is None
        # each read ran to its end: no read transaction is left open to pin the WAL
        assert reader._conn is not None and not reader._conn.in_transaction
    finally:
        reader.close()
        sql.close()


def test_point_reader_errors_are_store_errors_and_it_reconnects(tmp_path: Path) -> None:
    sql = SqlSenderHistory(f"sqlite:///{tmp_path / 'history.db'}")
    reader = sql.point_reader()
    assert reader is not None
    try:
        assert reader.seen("a@partner.example.net") is None
        reader._conn.dbapi_connection.close()  # a broken connection
        with pytest.raises(StoreError):
            reader.seen("a@partner.example.net")
        sql.record_sync("a@partner.example.net", 5.0)
        assert reader.seen("a@partner.example.net") == SenderStats(5.0, 5.0, 1)
    finally:
        reader.close()
        sql.close()


def test_point_reader_is_for_the_thread_that_made_it(tmp_path: Path) -> None:
    sql = SqlSenderHistory(f"sqlite:///{tmp_path / 'history.db'}")
    reader = sql.point_reader()
    assert reader is not None
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool, pytest.raises(StoreError):
            pool.submit(reader.seen, "a@partner.example.net").result()
    finally:
        reader.close()
        sql.close()
