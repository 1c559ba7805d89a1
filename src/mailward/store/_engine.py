"""Building the SQLAlchemy engine for a store URL, with SQLite tuned for several processes.

SQLite connections get ``journal_mode=WAL`` (readers never wait for the writer),
``busy_timeout`` of 10 s and foreign keys. A commit survives a power cut, with a group commit:
a file database's connections run ``synchronous=NORMAL`` (SQLite writes the commit to the
write-ahead log without an fsync, so the write lock is not held through one) and ``commit()``
returns only after the log has been fsynced, an fsync shared with every thread committing at
the same time (:func:`mailward.durable.group_sync`). A caller sees what ``synchronous=FULL``
gives (committed means on disk) while concurrent writers no longer queue one fsync each
behind the lock. In-memory databases keep ``synchronous=FULL`` (nothing to sync).
pysqlite's own transaction handling is turned off so the store emits ``BEGIN`` itself: a
connection opened with the ``mailward_write`` execution option starts with ``BEGIN IMMEDIATE``,
taking the write lock up front, so two processes never deadlock upgrading a read lock.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from mailward.durable import fsync_dir, group_sync
from mailward.errors import StoreError
from mailward.store import migrate

SUPPORTED_DIALECTS = ("sqlite", "postgresql")
BUSY_TIMEOUT_S = 10.0
WRITE_OPTION = "mailward_write"
#: PostgreSQL advisory lock taken while creating tables (several nodes may start at once).
_CREATE_LOCK = 0x6D61696C77617264  # "mailward"

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}",
    "PRAGMA foreign_keys=ON",
)


def parse_url(url: str) -> URL:
    """The URL parsed, or StoreError naming what is wrong (never echoing a password)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"store URL is not a valid SQLAlchemy URL: {exc}") from None
    if parsed.get_backend_name() not in SUPPORTED_DIALECTS:
        raise StoreError(
            f"store URL backend {parsed.get_backend_name()!r} is not supported; "
            f"use one of {', '.join(SUPPORTED_DIALECTS)}"
        )
    return parsed


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url)


def open_tables(url: str, metadata: MetaData, what: str) -> Engine:
    """An engine for ``url`` whose database is at the newest schema, ``metadata``'s tables in it.

    The schema comes from the migrations (:func:`mailward.store.migrate.ensure_schema`: an
    upgrade when the database is behind, under a lock, so several processes or nodes starting
    at once never race). A table of ``metadata`` still missing then has no migration: that is
    a StoreError too. On failure the engine is disposed and StoreError names ``what``.
    """
    engine = build_engine(url)
    try:
        migrate.ensure_schema(engine)
        missing = migrate.missing_tables(engine, metadata)
        if missing:
            raise StoreError(f"no migration creates table(s) {', '.join(missing)}")
    except (StoreError, SQLAlchemyError) as exc:
        engine.dispose()
        raise StoreError(f"cannot open the {what} tables: {exc}") from exc
    return engine


def creating(conn: Connection) -> None:
    """Before creating tables in ``conn``'s transaction: on PostgreSQL, wait for any other
    process creating tables (nodes of a cluster starting at once), so ``checkfirst`` holds."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CREATE_LOCK})


def build_engine(url: str) -> Engine:
    """An engine for ``url``; for a SQLite file, its parent directory is created."""
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        return create_engine(parsed, hide_parameters=True, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreError(f"cannot open store {parsed.render_as_string()}: {exc}") from exc


def _sqlite_engine(url: URL) -> Engine:
    kwargs: dict[str, Any] = {"hide_parameters": True}
    connect_args: dict[str, Any] = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    if _is_memory(url):
        kwargs["poolclass"] = StaticPool  # one shared in-memory database for every thread
    else:
        connect_args["factory"] = GroupCommitConnection
        assert url.database is not None
        try:
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the directory for {url.database}: {exc}") from exc
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _sqlite_on_begin)
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        grouped = isinstance(dbapi_connection, GroupCommitConnection)
        cursor.execute(f"PRAGMA synchronous={'NORMAL' if grouped else 'FULL'}")
    finally:
        cursor.close()


class GroupCommitConnection(sqlite3.Connection):
    """A file database's connection whose ``commit()`` returns once the commit is on disk:
    the write-ahead log is fsynced after it (shared with concurrent commits; see the module
    docstring)."""

    def __init__(self, database: str | os.PathLike[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.wal_path = f"{os.fspath(database)}-wal"
        #: The transaction began as a writer's (BEGIN IMMEDIATE); set by _sqlite_on_begin.
        self.writing = False
        self._changes = 0

    def commit(self) -> None:
        wrote = self.in_transaction and (self.writing or self.total_changes != self._changes)
        super().commit()
        self.writing = False
        self._changes = self.total_changes
        if wrote:
            try:
                group_sync(self.wal_path, _sync_wal)
            except OSError as exc:
                raise sqlite3.OperationalError(f"cannot fsync {self.wal_path}: {exc}") from exc

    def rollback(self) -> None:
        super().rollback()
        self.writing = False
        self._changes = self.total_changes


#: Inode of each write-ahead log as last synced: a new log's directory entry is synced too.
_WAL_INODES: dict[str, int] = {}


def _sync_wal(path: str) -> None:
    """fdatasync the write-ahead log (and its directory the first time a new log is seen).

    No log: SQLite checkpointed it into the database and synced that before removing it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return
    try:
        os.fdatasync(fd)
        inode = os.fstat(fd).st_ino
    finally:
        os.close(fd)
    if _WAL_INODES.get(path) != inode:
        fsync_dir(Path(path).parent)
        _WAL_INODES[path] = inode


def _sqlite_on_begin(conn: Connection) -> None:
    write = bool(conn.get_execution_options().get(WRITE_OPTION, False))
    dbapi = conn.connection.dbapi_connection
    if isinstance(dbapi, GroupCommitConnection):
        dbapi.writing = write
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def transaction(engine: Engine, what: str, *, write: bool = False) -> Iterator[Connection]:
    """One transaction on ``engine`` (``write``: a writer's connection, see WRITE_OPTION).
    IntegrityError passes (callers retry or report it); other database errors become a
    StoreError saying what could not be done."""
    try:
        options = {WRITE_OPTION: True} if write else {}
        with engine.connect().execution_options(**options) as conn, conn.begin():
            yield conn
    except IntegrityError:
        raise
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot {what}: {exc}") from exc
