"""Schema migrations: every table on the store's URL is created and changed by Alembic revisions.

The revisions ship inside the package (``mailward/store/migrations/versions``) and run on any
URL given in code: no ``alembic.ini`` is read. :func:`ensure_schema` is what every part calls
when it opens its engine (through :func:`mailward.store._engine.open_tables`): when the
database is not at the newest revision it upgrades it, under a lock so that several processes
or nodes starting at once upgrade it once:

- PostgreSQL: ``pg_advisory_xact_lock`` (released when the upgrade's transaction ends), and
  the whole upgrade in that one transaction (PostgreSQL has transactional DDL);
- SQLite: the upgrade in one ``BEGIN IMMEDIATE`` transaction (the database's write lock).

A database made by a release before migrations (its tables, no version table) is adopted by
the first revision, ``0001`` (the baseline): it creates only the tables and indexes that are
missing, so every later revision then applies as on a new database. The version is kept in
table :data:`VERSION_TABLE`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError as AlembicError
from sqlalchemy import Connection, Engine, MetaData, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from mailward.errors import StoreError

log = logging.getLogger(__name__)

SCRIPT_LOCATION = Path(__file__).with_name("migrations")
VERSION_TABLE = "mailward_schema_version"
#: The advisory lock key on PostgreSQL (b"mailward" as a signed 64-bit integer).
LOCK_KEY = int.from_bytes(b"mailward", "big", signed=True)
_WRITE_OPTION = "mailward_write"  # as mailward.store._engine.WRITE_OPTION (no import cycle)


@dataclass(frozen=True, slots=True)
class Revision:
    """One migration as `mailward db history` lists it."""

    revision: str
    down_revision: str | None
    doc: str


def config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the shipped revisions (``connection``: the one to run on)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head() -> str:
    """The newest revision shipped with this version of mailward."""
    found = _scripts().get_current_head()
    assert found is not None, "no migration revisions are shipped"
    return found


def history() -> list[Revision]:
    """Every shipped revision, newest first."""
    return [
        Revision(str(s.revision), _down(s.down_revision), (s.doc or "").strip())
        for s in _scripts().walk_revisions()
    ]


def _down(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else ",".join(str(v) for v in value)  # type: ignore[attr-defined]


def current(engine: Engine) -> str | None:
    """The database's revision; None for a new database or one made before migrations."""
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the schema version: {exc}") from exc


def missing_tables(engine: Engine, metadata: MetaData) -> list[str]:
    """The tables of ``metadata`` the database does not have (sorted)."""
    try:
        with engine.connect() as conn:
            have = set(inspect(conn).get_table_names())
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot list the tables: {exc}") from exc
    return sorted(set(metadata.tables) - have)


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's filter for schema comparisons: False for the objects the journal's subject
    index owns (mailward.response._subject_index installs it where the backend has one: an
    FTS5 table with shadow tables and triggers on SQLite, a pg_trgm index on PostgreSQL)."""
    if type_ == "table" and name is not None and name.startswith("journal_subject_fts"):
        return False
    return not (type_ == "index" and name == "ix_journal_subject_trgm")


def ensure_schema(engine: Engine) -> None:
    """Upgrade the database to :func:`head` unless it is there already (one cheap read).

    A database at a revision this version does not ship was upgraded by a newer mailward (a
    rolling upgrade: other nodes already run it); it is used as it is, with a warning, since
    revisions add to the schema before they take away."""
    revision = current(engine)
    if revision == head():
        return
    if revision is not None and not _known(revision):
        log.warning("the database schema (%s) is newer than this mailward's (%s): "
                    "upgrade this node too", revision, head())
        return
    upgrade(engine)


def _known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except AlembicError:
        return False


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade to ``revision`` under the schema lock (see the module's docstring)."""
    with _locked(engine, f"upgrade the schema to {revision}") as conn:
        command.upgrade(config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade to ``revision`` (``base`` drops every table: the data goes with them)."""
    with _locked(engine, f"downgrade the schema to {revision}") as conn:
        command.downgrade(config(conn), revision)


@contextmanager
def _locked(engine: Engine, what: str) -> Iterator[Connection]:
    """One write transaction holding the schema lock.

    On SQLite the foreign keys are off during it (as SQLite's ALTER TABLE procedure asks: a
    revision in batch mode rebuilds a table, and dropping the old copy of a referenced table
    would fail) and checked whole before COMMIT: a revision that breaks one is rolled back.
    """
    try:
        with engine.connect().execution_options(**{_WRITE_OPTION: True}) as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                _sqlite_foreign_keys(conn, on=False)
            try:
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                     {"key": LOCK_KEY})
                    yield conn
                    if sqlite:
                        _check_foreign_keys(conn)
            finally:
                if sqlite:
                    _sqlite_foreign_keys(conn, on=True)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot {what}: {exc}") from exc


def _sqlite_foreign_keys(conn: Connection, *, on: bool) -> None:
    """Outside any transaction (the pragma does nothing inside one): on the DB-API connection."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def _check_foreign_keys(conn: Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise StoreError(f"the migration would break {len(broken)} foreign key(s), e.g. "
                         f"{tuple(broken[0])}; nothing was changed")
