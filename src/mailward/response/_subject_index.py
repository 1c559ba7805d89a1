"""An index for subject substring hunts (``mailward hunt --subject "*invoice*"``).

A subject pattern is a substring, not a key, so the indicator index cannot answer it. Each
backend's own trigram index does:

- SQLite: an FTS5 table with the ``trigram`` tokenizer (SQLite 3.34+) over ``journal.subject``
  (external content, kept in step by triggers), so ``LIKE '%text%'`` is an index lookup for
  patterns with three or more characters in a row;
- PostgreSQL: a ``pg_trgm`` GIN index on ``lower(subject)``, which the plain ``LIKE`` query
  uses by itself.

Where neither is available (an old SQLite, no pg_trgm), hunts fall back to scanning the
journal: slower, same answers. :func:`install` is idempotent and fills the index from the
existing rows the first time.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, Select, column, func, select, table, text
from sqlalchemy.exc import SQLAlchemyError

from mailward.store._engine import WRITE_OPTION, creating

log = logging.getLogger(__name__)

FTS_TABLE = "journal_subject_fts"
#: The FTS table as a lightweight clause for queries (it is not in the journal's MetaData, so
#: ``create_all`` never tries to create it as an ordinary table).
subject_fts = table(FTS_TABLE, column("rowid"), column("subject"))

_SQLITE = (
    "CREATE VIRTUAL TABLE journal_subject_fts USING fts5(subject, content='journal', "
    "content_rowid='id', tokenize='trigram case_sensitive 0')",
    "CREATE TRIGGER IF NOT EXISTS journal_subject_ai AFTER INSERT ON journal BEGIN "
    "INSERT INTO journal_subject_fts(rowid, subject) VALUES (new.id, new.subject); END",
    "CREATE TRIGGER IF NOT EXISTS journal_subject_ad AFTER DELETE ON journal BEGIN "
    "INSERT INTO journal_subject_fts(journal_subject_fts, rowid, subject) "
    "VALUES ('delete', old.id, old.subject); END",
    "INSERT INTO journal_subject_fts(journal_subject_fts) VALUES ('rebuild')",
)
_POSTGRES = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_journal_subject_trgm ON journal "
    "USING gin (lower(subject) gin_trgm_ops)",
)


def install(engine: Engine) -> bool:
    """Create the subject index if missing; True when FTS5 queries may be used (SQLite)."""
    backend = engine.dialect.name
    try:
        if backend == "sqlite":
            return _install_sqlite(engine)
        if backend == "postgresql":
            _run(engine, _POSTGRES)
    except SQLAlchemyError as exc:
        log.warning("no subject index (%s); subject hunts will scan the journal", exc)
    return False


def _install_sqlite(engine: Engine) -> bool:
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        exists = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": FTS_TABLE},
        ).first()
        if exists is None:
            for statement in _SQLITE:
                conn.execute(text(statement))
    return True


def _run(engine: Engine, statements: tuple[str, ...]) -> None:
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        creating(conn)  # nodes starting at once: one at a time
        for statement in statements:
            conn.execute(text(statement))


def indexable(like: str) -> bool:
    """True when a LIKE pattern has three characters in a row an FTS5 trigram lookup can use."""
    run = 0
    for ch in like:
        run = 0 if ch in "%_" else run + 1
        if run >= 3:
            return True
    return False


#: A pattern matching at least this many messages is answered by a newest-first walk.
BROAD = 5000


def indexed_like(pattern: str) -> str | None:
    """The unescaped LIKE pattern for the FTS5 index from a hunt pattern (``*`` = any run), or
    None when the index cannot answer it."""
    if any(ch in pattern for ch in "%_\\"):
        return None
    like = "%" + pattern.replace("*", "%") + "%"
    return like if indexable(like) else None


def matching_ids(like: str) -> Select[tuple[int]]:
    """Ids of the journal rows whose subject matches ``like``, from the trigram index."""
    return select(subject_fts.c.rowid).where(subject_fts.c.subject.like(like))


def is_broad(conn: Connection, like: str) -> bool:
    """True when ``like`` matches :data:`BROAD` messages or more (counted up to that)."""
    probe = select(func.count()).select_from(matching_ids(like).limit(BROAD).subquery())
    return int(conn.execute(probe).scalar_one()) >= BROAD
