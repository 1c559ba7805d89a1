"""New journal entries written on SQLite through the driver's cursor, a batch at a time.

The rows are those of :func:`~mailward.response._schema.entry_rows` (the same columns, values
and JSON text as the Core statements write: ``json.dumps``, as SQLAlchemy's JSON type does),
built in the recording thread (:func:`prepare`) before the write lock is taken. A batch is
written with one ``INSERT`` per journal row (its id comes back as the cursor's ``lastrowid``)
and one ``executemany`` each for the batch's indicators, raw bytes and copies: SQLAlchemy's
statement machinery (about 40 µs a statement, four statements an entry) is skipped. Only for
entries believed new: the careful path (look the spool id up first, add only the missing
copies) stays on Core statements, as do other backends.

A driver error is handed on as SQLAlchemy's own exception (``DBAPIError.instance``): an
IntegrityError (a spool id recorded before) for the caller to retry the careful way, anything
else for :meth:`Journal._tx` to turn into a StoreError.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from mailward.response import _raw
from mailward.response._schema import JournalEntry, details_of, entry_indicators

__all__ = ["PreparedEntry", "prepare", "write"]

_JOURNAL_SQL = (
    "INSERT INTO journal (spool_id, received_at, mail_from, peer_ip, from_address, "
    "from_domain, subject, subject_fp, message_id, action, score, recipients, details) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INDICATORS_SQL = (
    "INSERT INTO journal_indicators (kind, value, received_at, journal_id) VALUES (?, ?, ?, ?)"
)
_RAW_SQL = "INSERT INTO journal_raw (journal_id, received_at, raw) VALUES (?, ?, ?)"
_COPIES_SQL = "INSERT INTO journal_copies (journal_id, recipient, location) VALUES (?, ?, ?)"


@dataclass(frozen=True, slots=True)
class PreparedEntry:
    """One entry's rows, without the journal id the database gives them."""

    spool_id: str
    received_at: float
    journal: tuple[Any, ...]
    indicators: tuple[tuple[str, str], ...]
    copies: tuple[tuple[str, str], ...]
    raw: bytes | None


def prepare(entry: JournalEntry) -> PreparedEntry:
    """The rows of ``entry`` (compressing its raw bytes): the work done outside the lock."""
    fp = entry.subject_fp
    journal = (
        entry.spool_id, entry.received_at, entry.mail_from, entry.peer_ip,
        entry.from_address, entry.from_domain, entry.subject, fp, entry.message_id,
        entry.action, entry.score, json.dumps(list(entry.recipients)),
        json.dumps(details_of(entry)),
    )
    return PreparedEntry(
        spool_id=entry.spool_id, received_at=entry.received_at, journal=journal,
        indicators=tuple(sorted(entry_indicators(entry, fp))),
        copies=tuple(dict(entry.copies).items()),
        raw=None if entry.raw is None else _raw.pack(entry.raw),
    )


def write(conn: Connection, entries: Sequence[PreparedEntry]) -> None:
    """Insert ``entries`` as new in ``conn``'s open transaction (a SQLite connection)."""
    dbapi = conn.connection.dbapi_connection
    assert isinstance(dbapi, sqlite3.Connection)
    cursor = dbapi.cursor()
    statement, params = _JOURNAL_SQL, None
    try:
        indicators: list[tuple[str, str, float, int]] = []
        raws: list[tuple[int, float, bytes]] = []
        copies: list[tuple[int, str, str]] = []
        for entry in entries:
            params = entry.journal
            cursor.execute(_JOURNAL_SQL, params)
            journal_id = cursor.lastrowid
            assert journal_id is not None
            at = entry.received_at
            indicators += [(kind, key, at, journal_id) for kind, key in entry.indicators]
            if entry.raw is not None:
                raws.append((journal_id, at, entry.raw))
            copies += [(journal_id, rcpt, where) for rcpt, where in entry.copies]
        params = None
        indicators.sort()  # neighbouring keys: fewer B-tree pages touched
        for statement, rows in ((_INDICATORS_SQL, indicators), (_RAW_SQL, raws),
                                (_COPIES_SQL, copies)):
            if rows:
                cursor.executemany(statement, rows)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, params, exc, sqlite3.Error,
                                  hide_parameters=True) from exc
    finally:
        cursor.close()
