"""Browsing the quarantine for the console: filters and keyset paging over any number of entries.

:class:`QuarantineBrowser` opens its own engine on the store's URL (as the feedback store does)
and reads the quarantine tables of :mod:`mailward.store._schema`. A page is the entries older
than a cursor (``received_at``, ``id``) in newest-first order, so page 1000 costs what page 1
costs; the derived status is tested per entry with ``NOT EXISTS`` on the recipients' primary
key instead of grouping every recipient row. On first use it adds, where missing (SQLite and
PostgreSQL), the index the paging walks, ``ix_quarantine_received_id`` (received_at, id), and
``ix_quarantine_recipients_recipient``, used when the recipient filter is a whole address (a
part of an address is matched as a substring, which reads every entry up to a page's worth).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Index,
    String,
    and_,
    cast,
    distinct,
    exists,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.exc import SQLAlchemyError

from mailward.errors import StoreError
from mailward.store import _schema as s
from mailward.store._engine import WRITE_OPTION, build_engine, creating
from mailward.store.base import DELETED, HELD, PARTIAL, RELEASED, QuarantineEntry

_Q = s.quarantine
_QR = s.quarantine_recipients
_COLUMNS = [c for c in _Q.c if c.name not in ("raw", "quarantined_at")]
PAGING_INDEX = Index("ix_quarantine_received_id", _Q.c.received_at, _Q.c.id)
RECIPIENT_INDEX = Index("ix_quarantine_recipients_recipient", _QR.c.recipient)


@dataclass(frozen=True, slots=True)
class QuarantineFilter:
    """What a list shows; empty fields do not filter. Text matches are case-insensitive
    substrings, ``symbol`` an exact symbol among the findings."""

    status: str | None = HELD
    since: float | None = None
    until: float | None = None
    sender: str = ""
    recipient: str = ""
    subject: str = ""
    symbol: str = ""
    action: str = ""
    min_score: float | None = None
    max_score: float | None = None


@dataclass(frozen=True, slots=True)
class Page:
    entries: list[QuarantineEntry]
    next_cursor: str | None  # pass back as ``after`` for the next (older) page


def encode_cursor(received_at: float, entry_id: str) -> str:
    raw = json.dumps([received_at, entry_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """ValueError when ``cursor`` is not one this module made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, entry_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError("not a quarantine page cursor") from exc
    if not isinstance(at, int | float) or not isinstance(entry_id, str):
        raise ValueError("not a quarantine page cursor")
    return float(at), entry_id


def _is_address(text: str) -> bool:
    local, at, domain = text.partition("@")
    return bool(local and at and "." in domain and not domain.endswith("."))


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _any_recipient_not(status: str) -> ColumnElement[bool]:
    return exists().where(and_(_QR.c.quarantine_id == _Q.c.id, _QR.c.status != status))


def _status_clause(status: str) -> ColumnElement[bool]:
    if status in (HELD, RELEASED, DELETED):
        return not_(_any_recipient_not(status))
    if status == PARTIAL:
        kinds = (
            select(func.count(distinct(_QR.c.status)))
            .where(_QR.c.quarantine_id == _Q.c.id)
            .scalar_subquery()
        )
        return kinds > 1
    raise ValueError(f"unknown quarantine status {status!r}")


def filter_clauses(f: QuarantineFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a filter (ValueError for an unknown status)."""
    where: list[ColumnElement[bool]] = []
    if f.status:
        where.append(_status_clause(f.status))
    if f.since is not None:
        where.append(_Q.c.received_at >= f.since)
    if f.until is not None:
        where.append(_Q.c.received_at < f.until)
    if f.sender:
        where.append(func.lower(_Q.c.mail_from).like(_like(f.sender), escape="\\"))
    if f.subject:
        where.append(func.lower(_Q.c.subject).like(_like(f.subject), escape="\\"))
    if _is_address(f.recipient):  # a whole address: the recipient index, not a scan
        where.append(_Q.c.id.in_(
            select(_QR.c.quarantine_id).where(
                _QR.c.recipient.in_(sorted({f.recipient, f.recipient.lower()}))
            )
        ))
    elif f.recipient:
        where.append(exists().where(and_(
            _QR.c.quarantine_id == _Q.c.id,
            func.lower(_QR.c.recipient).like(_like(f.recipient), escape="\\"),
        )))
    if f.symbol:
        # the JSON text holds {"symbol": "NAME", ...} as SQLAlchemy wrote it (json.dumps)
        pattern = _like(json.dumps({"symbol": f.symbol.upper()})[1:-1])
        where.append(func.lower(cast(_Q.c.findings, String)).like(pattern, escape="\\"))
    if f.action:
        where.append(_Q.c.action == f.action)
    if f.min_score is not None:
        where.append(_Q.c.score >= f.min_score)
    if f.max_score is not None:
        where.append(_Q.c.score <= f.max_score)
    return where


class QuarantineBrowser:
    """Filtered, keyset-paged reads of the quarantine at a store URL."""

    def __init__(self, url: str) -> None:
        self._engine = build_engine(url)
        self._indexed = False

    def close(self) -> None:
        self._engine.dispose()

    def connect(self) -> Connection:
        """A connection for other read-only aggregates over the same tables (close it)."""
        return self._engine.connect()

    def ensure_indexes(self) -> None:
        """Create the paging index where missing (the quarantine tables must exist)."""
        if self._indexed:
            return
        try:
            with self._engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    creating(conn)
                    s.METADATA.create_all(conn, checkfirst=True)
                    PAGING_INDEX.create(conn, checkfirst=True)
                    RECIPIENT_INDEX.create(conn, checkfirst=True)
        except SQLAlchemyError as exc:
            raise StoreError(f"store failed to index the quarantine: {exc}") from exc
        self._indexed = True

    def page(self, f: QuarantineFilter, after: str | None = None, limit: int = 50) -> Page:
        """Up to ``limit`` entries matching ``f``, newest first, older than cursor ``after``."""
        self.ensure_indexes()
        query = select(*_COLUMNS).where(true(), *filter_clauses(f))
        if after:
            at, entry_id = decode_cursor(after)
            query = query.where(or_(
                _Q.c.received_at < at, and_(_Q.c.received_at == at, _Q.c.id < entry_id)
            ))
        query = query.order_by(_Q.c.received_at.desc(), _Q.c.id.desc()).limit(limit + 1)
        try:
            with self._engine.connect() as conn, conn.begin():
                rows = list(conn.execute(query))
                more = len(rows) > limit
                rows = rows[:limit]
                recipients = _recipients_of(conn, [row.id for row in rows])
        except SQLAlchemyError as exc:
            raise StoreError(f"store failed to list the quarantine: {exc}") from exc
        entries = [s.entry_from_row(row, recipients.get(row.id, {})) for row in rows]
        cursor = encode_cursor(rows[-1].received_at, rows[-1].id) if more and rows else None
        return Page(entries, cursor)


def _recipients_of(conn: Any, ids: Sequence[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {i: {} for i in ids}
    if not ids:
        return out
    query = (
        select(_QR.c.quarantine_id, _QR.c.recipient, _QR.c.status)
        .where(_QR.c.quarantine_id.in_(ids))
        .order_by(_QR.c.quarantine_id, _QR.c.position)
    )
    for qid, recipient, status in conn.execute(query):
        out[qid][recipient] = status
    return out
