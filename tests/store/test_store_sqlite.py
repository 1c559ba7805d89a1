"""SQLite specifics: the file and its directory, the pragmas, and errors turned into StoreError."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mailward.errors import StoreError
from mailward.store import MessageRecord, _engine, open_store

RecordFactory = Callable[..., MessageRecord]


def test_open_creates_parent_directory(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "er" / "mailward.db"
    store = open_store(f"sqlite:///{db}")
    store.close()
    assert db.is_file()


def test_open_fails_cleanly_when_directory_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create the directory"):
        open_store(f"sqlite:///{blocker / 'sub' / 'mailward.db'}")


def test_pragmas_set_on_connections(tmp_path: Path, make_record: RecordFactory) -> None:
    db = tmp_path / "mailward.db"
    store = open_store(f"sqlite:///{db}")
    try:
        store.record_message(make_record())
        engine = store._engine  # type: ignore[attr-defined]
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
        assert pragmas == {
            "journal_mode": "wal",
            "synchronous": 1,  # NORMAL: commit() itself fsyncs the log (group commit)
            "busy_timeout": 10_000,
            "foreign_keys": 1,
        }
    finally:
        store.close()


def test_commit_returns_after_the_log_is_fsynced(
    tmp_path: Path, make_record: RecordFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "mailward.db"
    store = open_store(f"sqlite:///{db}")
    synced: list[str] = []
    real = _engine._sync_wal
    monkeypatch.setattr(_engine, "_sync_wal", lambda path: (synced.append(path), real(path)))
    try:
        store.record_message(make_record("m1"))
        assert synced == [f"{db}-wal"]
        assert store.get_message("m1") is not None  # a read commits nothing: no fsync
        assert synced == [f"{db}-wal"]
    finally:
        store.close()


def test_a_failed_log_fsync_fails_the_write(
    tmp_path: Path, make_record: RecordFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'mailward.db'}")

    def broken(path: str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_engine, "_sync_wal", broken)
    try:
        with pytest.raises(StoreError, match="cannot fsync"):
            store.record_message(make_record("m1"))
    finally:
        store.close()


def test_in_memory_store_is_shared_across_threads(make_record: RecordFactory) -> None:
    store = open_store("sqlite://")
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(store.record_message, make_record("m")).result()
        assert store.get_message("m") is not None
    finally:
        store.close()


@pytest.mark.parametrize("url", ["mysql://u@127.0.0.1/db", "not a url"])
def test_unsupported_or_bad_url_fails(url: str) -> None:
    with pytest.raises(StoreError, match="store URL"):
        open_store(url)


def test_database_errors_become_store_errors(tmp_path: Path, make_record: RecordFactory) -> None:
    db = tmp_path / "mailward.db"
    store = open_store(f"sqlite:///{db}")
    try:
        store.record_message(make_record("ok"))  # works while the table exists
        with sqlite3.connect(db) as raw:
            raw.execute("DROP TABLE messages")
        with pytest.raises(StoreError, match="record message m2: OperationalError"):
            store.record_message(make_record("m2"))
    finally:
        store.close()


def test_locked_database_is_a_store_error_not_a_hang(
    tmp_path: Path, make_record: RecordFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        _engine, "_SQLITE_PRAGMAS", (*_engine._SQLITE_PRAGMAS[:2], "PRAGMA busy_timeout=100")
    )
    monkeypatch.setattr(_engine, "BUSY_TIMEOUT_S", 0.1)
    db = tmp_path / "mailward.db"
    store = open_store(f"sqlite:///{db}")
    locker = sqlite3.connect(db, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="locked"):
            store.record_message(make_record())
        locker.execute("ROLLBACK")
        store.record_message(make_record())  # and it works once the lock is gone
        assert store.get_message("msg-1") is not None
    finally:
        locker.close()
        store.close()
