"""The delivery journal: one row per delivered message, indexed by indicator for hunting.

Tables (SQLAlchemy Core, own MetaData, created if missing; SQLite WAL or PostgreSQL, same URL
as the store):

journal             one row per delivered message: spool id (unique), time, senders, subject
                    and its fingerprint, Message-ID, action, score, recipients, link and
                    attachment details (JSON)
journal_copies      where each recipient's copy went: "maildir:<path>", "relay:<host>" or
                    "imap:<mailbox>"
journal_raw         the message bytes as received (Zstandard; older rows zlib: see _raw), kept
                    until :meth:`Journal.purge`
journal_subject_fts the subject's trigram index for substring hunts (see _subject_index)
journal_indicators  one row per (kind, value, message); its primary key (kind, value,
                    received_at, journal_id) is the lookup index, so :meth:`Journal.find` is
                    one index seek, newest first, with the time window inside the seek.
                    On SQLite it is a WITHOUT ROWID table (the key is the table).

Retention: :meth:`Journal.purge` drops the raw bytes of older messages but keeps their rows
and indicators, so "who received it, and where" can still be answered (and clawed back) after
the bytes are gone; :meth:`Journal.purge_entries` drops everything older than a cut-off.
Every SQLAlchemy failure becomes :class:`~mailward.errors.StoreError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mailward.errors import StoreError
from mailward.response import _raw, _subject_index, _writer
from mailward.response._keys import normalise_indicator
from mailward.response._schema import (
    JOURNAL_METADATA,
    AttachmentDigest,
    JournalEntry,
    JournalHit,
    entry_indicators,
    entry_rows,
    hit_from_row,
    journal,
    journal_copies,
    journal_indicators,
    journal_raw,
)
from mailward.store._engine import WRITE_OPTION, open_tables
from mailward.store._group import GroupTransaction

__all__ = [
    "JOURNAL_METADATA",
    "AttachmentDigest",
    "Journal",
    "JournalEntry",
    "JournalHit",
    "SideWrite",
    "entry_indicators",
    "entry_rows",
]

log = logging.getLogger(__name__)

_J = journal
_I = journal_indicators
# Built once; each entry only binds its values.
_INSERT_JOURNAL = _J.insert()
_INSERT_INDICATORS = _I.insert()
_INSERT_RAW = journal_raw.insert()
_INSERT_COPIES = journal_copies.insert()
_SPOOL_ID = select(_J.c.id).where(_J.c.spool_id == bindparam("spool_id"))
_KNOWN_COPIES = select(journal_copies.c.recipient).where(
    journal_copies.c.journal_id == bindparam("journal_id"))


@dataclass(frozen=True, slots=True)
class SideWrite:
    """A write to another table of the journal's database made in a journal entry's
    transaction (the sender history's sighting of a delivered message's sender: one commit
    for both): ``write(conn)`` there, or ``alone()`` in a transaction of its own when that
    transaction fails. Advisory: its failure is logged, never raised."""

    write: Callable[[Connection], None]
    alone: Callable[[], None]


@dataclass(frozen=True, slots=True)
class _Item:
    """One entry to record: with its rows already built when they go through the driver."""

    entry: JournalEntry
    side: SideWrite | None
    prepared: _writer.PreparedEntry | None


class Journal:
    """The delivery journal in a SQLAlchemy database (the store's URL). Blocking calls: from
    async code, run them in a worker thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = open_tables(url, JOURNAL_METADATA, "journal")
        self._subject_fts = _subject_index.install(self._engine)
        #: New entries go through the driver's cursor (SQLite; see _writer).
        self._driver_writes = self._engine.dialect.name == "sqlite"
        #: Entries recorded at the same time (spool workers) share one transaction.
        self._writes: GroupTransaction[_Item] = GroupTransaction(
            lambda: self._tx("record entries", write=True), self._record_batch,
            self._record_item)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _tx(self, what: str, *, write: bool = False) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    yield conn
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            detail = getattr(exc, "orig", None) or exc
            raise StoreError(
                f"journal failed to {what}: {type(detail).__name__}: {detail}"
            ) from exc

    # -- writing ----------------------------------------------------------------------------

    def record(self, entry: JournalEntry, side: SideWrite | None = None) -> None:
        """Journal one delivered message (with ``side`` in the same transaction). Idempotent
        by spool id: recording the same spool id again only adds the copies of recipients not
        yet journaled (a partly deferred delivery finishing later); the rest of the first
        record stands. Returns once committed; entries recorded at the same time from other
        threads share the transaction (:mod:`mailward.store._group`).

        The first try inserts without looking (nearly every entry is new): on SQLite through
        the driver's cursor with the rows built here, before the write lock is taken
        (:mod:`mailward.response._writer`). The unique spool id refuses a second record, whose
        transaction is then rolled back and redone the careful way (look the spool id up
        first)."""
        prepared = _writer.prepare(entry) if self._driver_writes else None
        self._writes.run(_Item(entry, side, prepared))

    def _record_batch(self, conn: Connection, items: list[_Item]) -> None:
        self._insert_new(conn, items)
        for item in items:
            if item.side is not None:
                item.side.write(conn)

    def _insert_new(self, conn: Connection, items: Sequence[_Item]) -> None:
        """Insert entries believed new (IntegrityError when one is not)."""
        prepared = [item.prepared for item in items if item.prepared is not None]
        if len(prepared) == len(items):
            _writer.write(conn, prepared)
            return
        for item in items:
            self._record(conn, item.entry, look_first=False)

    def _record_item(self, item: _Item) -> None:
        entry, side = item.entry, item.side
        if side is not None:
            try:
                with self._tx(f"record {entry.spool_id}", write=True) as conn:
                    self._insert_new(conn, (item,))
                    side.write(conn)
                return
            except Exception:  # each on its own: the careful way for the entry
                self._side_alone(side)
        self._record_entry(item)

    @staticmethod
    def _side_alone(side: SideWrite) -> None:
        try:
            side.alone()
        except Exception:
            log.exception("a write beside a journal entry failed")

    def _record_entry(self, item: _Item) -> None:
        entry = item.entry
        for attempt in range(3):
            try:
                with self._tx(f"record {entry.spool_id}", write=True) as conn:
                    if attempt == 0:
                        self._insert_new(conn, (item,))
                    else:
                        self._record(conn, entry, look_first=True)
                return
            except IntegrityError as exc:  # recorded before, or a concurrent first record
                if attempt == 2:
                    raise StoreError(f"journal cannot record {entry.spool_id}: {exc}") from None

    def _record(self, conn: Connection, entry: JournalEntry, *, look_first: bool) -> None:
        existing = (conn.execute(_SPOOL_ID, {"spool_id": entry.spool_id}).first()
                    if look_first else None)
        row, indicators, copies, raw = entry_rows(entry)
        if existing is None:
            inserted = conn.execute(_INSERT_JOURNAL, row).inserted_primary_key
            assert inserted is not None
            journal_id = int(inserted[0])
            for item in (*indicators, *copies, *([raw] if raw else [])):
                item["journal_id"] = journal_id
            if indicators:
                conn.execute(_INSERT_INDICATORS, indicators)
            if raw is not None:
                conn.execute(_INSERT_RAW, raw)
        else:
            journal_id = int(existing[0])
            known = set(conn.execute(_KNOWN_COPIES, {"journal_id": journal_id}).scalars())
            copies = [c for c in copies if c["recipient"] not in known]
            for item in copies:
                item["journal_id"] = journal_id
        if copies:
            conn.execute(_INSERT_COPIES, copies)

    # -- reading ----------------------------------------------------------------------------

    def find(
        self, kind: str, value: str, since: float | None = None, until: float | None = None,
        limit: int = 1000,
    ) -> list[JournalHit]:
        """Messages with indicator ``kind`` = ``value`` (normalised as when recorded), newest
        first, received in [since, until). Raises ValueError for an unknown kind."""
        key = normalise_indicator(kind, value)
        if key is None:
            return []
        query = select(_I.c.journal_id).where(_I.c.kind == kind, _I.c.value == key)
        if since is not None:
            query = query.where(_I.c.received_at >= since)
        if until is not None:
            query = query.where(_I.c.received_at < until)
        query = query.order_by(_I.c.received_at.desc()).limit(limit)
        with self._tx(f"find {kind}") as conn:
            ids = list(conn.execute(query).scalars())
            return self._hits(conn, ids, (f"{kind}:{key}",))

    def find_subject(
        self, pattern: str, since: float | None = None, until: float | None = None,
        limit: int = 1000,
    ) -> list[JournalHit]:
        """Messages whose subject contains ``pattern`` (case-insensitive; ``*`` matches any
        run of characters), newest first, received in [since, until)."""
        escaped = pattern.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = "%" + escaped.replace("*", "%") + "%"
        indexed = _subject_index.indexed_like(pattern) if self._subject_fts else None
        with self._tx("find subject") as conn:
            if indexed is not None and not _subject_index.is_broad(conn, indexed):
                condition = _J.c.id.in_(_subject_index.matching_ids(indexed))
            else:
                condition = func.lower(_J.c.subject).like(like, escape="\\")
            query = select(_J.c.id).where(condition)
            query = _window(query, since, until).order_by(_J.c.received_at.desc()).limit(limit)
            ids = list(conn.execute(query).scalars())
            return self._hits(conn, ids, (f"subject:{pattern}",))

    def get(self, journal_id: int) -> JournalHit | None:
        """One journaled message by id, with its link and attachment details."""
        with self._tx(f"read {journal_id}") as conn:
            hits = self._hits(conn, [journal_id], ())
        return hits[0] if hits else None

    def by_spool_ids(self, spool_ids: Sequence[str]) -> list[JournalHit]:
        """The journaled messages with these spool ids (those delivered), newest first."""
        if not spool_ids:
            return []
        with self._tx("read by spool id") as conn:
            ids = list(conn.execute(select(_J.c.id).where(_J.c.spool_id.in_(list(spool_ids)))
                                    .order_by(_J.c.received_at.desc())).scalars())
            return self._hits(conn, ids, ())

    def raw(self, journal_id: int) -> bytes | None:
        """The message bytes as received; None once purged (or never kept)."""
        query = select(journal_raw.c.raw).where(journal_raw.c.journal_id == journal_id)
        with self._tx(f"read raw {journal_id}") as conn:
            data = conn.execute(query).scalar()
        return None if data is None else _raw.unpack(data)

    def iter_window(
        self, since: float | None = None, until: float | None = None, batch: int = 500
    ) -> Iterator[JournalHit]:
        """Every message received in [since, until), oldest first, read in batches (each its
        own short transaction, so a long walk never holds the database)."""
        after: tuple[float, int] | None = None
        while True:
            query = _window(select(_J.c.id, _J.c.received_at), since, until)
            if after is not None:
                query = query.where(
                    (_J.c.received_at > after[0])
                    | ((_J.c.received_at == after[0]) & (_J.c.id > after[1]))
                )
            query = query.order_by(_J.c.received_at, _J.c.id).limit(batch)
            with self._tx("walk the journal") as conn:
                keys = [(float(r[1]), int(r[0])) for r in conn.execute(query)]
                hits = self._hits(conn, [k[1] for k in keys], ())
            yield from sorted(hits, key=lambda h: (h.received_at, h.journal_id))
            if len(keys) < batch:
                return
            after = keys[-1]

    def _hits(
        self, conn: Connection, ids: Sequence[int], matched: tuple[str, ...]
    ) -> list[JournalHit]:
        if not ids:
            return []
        rows = {int(r.id): r for r in conn.execute(select(_J).where(_J.c.id.in_(ids)))}
        copies: dict[int, list[tuple[str, str]]] = {}
        c = journal_copies.c
        for jid, rcpt, loc in conn.execute(
            select(c.journal_id, c.recipient, c.location).where(c.journal_id.in_(ids))
        ):
            copies.setdefault(int(jid), []).append((str(rcpt), str(loc)))
        return [
            hit_from_row(rows[i], tuple(sorted(copies.get(i, []))), matched)
            for i in ids
            if i in rows
        ]

    # -- retention --------------------------------------------------------------------------

    def purge(self, older_than: float) -> int:
        """Drop the raw bytes of messages received before epoch ``older_than``; the journal
        rows, copies and indicators stay (hunts still answer). Returns how many were dropped."""
        stmt = delete(journal_raw).where(journal_raw.c.received_at < older_than)
        with self._tx("purge raw messages", write=True) as conn:
            return int(conn.execute(stmt).rowcount)

    def purge_entries(self, older_than: float) -> int:
        """Drop everything journaled about messages received before ``older_than``: rows,
        copies, indicators and raw bytes. Returns how many messages were dropped."""
        old = select(_J.c.id).where(_J.c.received_at < older_than).scalar_subquery()
        with self._tx("purge journal entries", write=True) as conn:
            conn.execute(delete(_I).where(_I.c.received_at < older_than))
            conn.execute(delete(journal_raw).where(journal_raw.c.journal_id.in_(old)))
            conn.execute(delete(journal_copies).where(journal_copies.c.journal_id.in_(old)))
            return int(conn.execute(delete(_J).where(_J.c.received_at < older_than)).rowcount)

    def count(self) -> int:
        with self._tx("count entries") as conn:
            return int(conn.execute(select(func.count()).select_from(_J)).scalar_one())


def _window(query: Any, since: float | None, until: float | None) -> Any:
    if since is not None:
        query = query.where(_J.c.received_at >= since)
    if until is not None:
        query = query.where(_J.c.received_at < until)
    return query
