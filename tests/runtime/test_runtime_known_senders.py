"""KnownSenders: a scan process asks the sender history only about senders not found seen."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mailward.runtime.known_senders import KnownSenders, remember_known_senders
from mailward.store.history import MemorySenderHistory, SenderStats, SqlSenderHistory


class CountingHistory(MemorySenderHistory):
    """A memory history that counts the questions it is asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    async def seen(self, address: str) -> SenderStats | None:
        self.asked += 1
        return await super().seen(address)


def test_a_sender_found_seen_is_not_asked_about_again() -> None:
    async def go() -> None:
        history = CountingHistory()
        await history.record("Alice@Partner.example.net", 100.0)
        known = KnownSenders(history)
        first = await known.seen("alice@partner.example.net")
        again = await known.seen(" ALICE@partner.example.net ")
        assert first == again == SenderStats(100.0, 100.0, 1)
        assert history.asked == 1

    asyncio.run(go())


def test_a_sender_never_seen_is_asked_about_each_time_and_found_once_recorded() -> None:
    async def go() -> None:
        history = CountingHistory()
        known = KnownSenders(history)
        assert await known.seen("new@partner.example.net") is None
        assert await known.seen("new@partner.example.net") is None
        await history.record("new@partner.example.net", 200.0)
        assert await known.seen("new@partner.example.net") is not None
        assert history.asked == 3

    asyncio.run(go())


def test_the_memory_is_bounded() -> None:
    async def go() -> None:
        history = CountingHistory()
        for n in range(5):
            await history.record(f"s{n}@partner.example.net", 1.0)
        known = KnownSenders(history, limit=3)
        for n in range(5):
            assert await known.seen(f"s{n}@partner.example.net") is not None
        assert len(known._seen) <= 3
        assert await known.seen("s4@partner.example.net") is not None

    asyncio.run(go())


def test_answers_equal_the_sql_history_and_close_reaches_it(tmp_path: Path) -> None:
    async def go() -> None:
        sql = SqlSenderHistory(f"sqlite:///{tmp_path / 'history.db'}")
        clients = remember_known_senders({"history": sql, "feeds": None})
        known = clients["history"]
        assert isinstance(known, KnownSenders) and clients["feeds"] is None
        assert await known.seen("bob@partner.example.net") is None
        sql.record_sync("bob@partner.example.net", 300.0)
        assert await known.seen("bob@partner.example.net") == await sql.seen(
            "bob@partner.example.net")
        known.close()

    asyncio.run(go())


def test_clients_without_a_history_are_left_as_they_are() -> None:
    clients = {"feeds": None}
    assert remember_known_senders(clients) == {"feeds": None}


class NoAsyncSql(SqlSenderHistory):
    """A SQLite history whose worker-thread ``seen`` must not be used."""

    async def seen(self, address: str) -> SenderStats | None:
        raise AssertionError("asked through the worker thread")


def test_a_sqlite_history_is_read_through_its_point_reader(tmp_path: Path) -> None:
    async def go() -> None:
        sql = NoAsyncSql(f"sqlite:///{tmp_path / 'history.db'}")
        known = KnownSenders(sql)
        assert await known.seen("carol@partner.example.net") is None
        sql.record_sync("carol@partner.example.net", 400.0)
        assert await known.seen("Carol@partner.example.net") == SenderStats(400.0, 400.0, 1)
        known.close()

    asyncio.run(go())
