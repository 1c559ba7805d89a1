"""The SQL store: SQLite by default, PostgreSQL for scale, on SQLAlchemy Core.

Every public method is one short transaction, so the serve process and the CLI can share one
SQLite file. Writes start with ``BEGIN IMMEDIATE`` on SQLite and lock the recipient rows
(``SELECT ... FOR UPDATE``) on PostgreSQL, so two analysts releasing the same message at once
release each recipient once. Every SQLAlchemy error becomes :class:`~mailward.errors.StoreError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from mailward.errors import StoreError
from mailward.store import _schema as s
from mailward.store import migrate
from mailward.store._engine import WRITE_OPTION, build_engine
from mailward.store._group import GroupTransaction
from mailward.store.base import (
    DELETED,
    ENTRY_STATUSES,
    HELD,
    PARTIAL,
    RELEASED,
    AuditEntry,
    MessageRecord,
    QuarantineEntry,
    Store,
    derive_status,
)

_Q = s.quarantine
_QR = s.quarantine_recipients
_QUARANTINE_COLUMNS = [c for c in _Q.c if c.name not in ("raw", "quarantined_at")]


def open_store(url: str, *, clock: Callable[[], float] = time.time) -> Store:
    """Open (and create the tables of) the store at a SQLAlchemy URL.

    ``sqlite:///path/to/mailward.db`` creates the parent directory;
    ``postgresql+psycopg://user@host/db`` needs the psycopg driver installed.
    ``clock`` gives the epoch seconds written to the audit log and status changes.
    """
    store = SqlStore(build_engine(url), clock=clock)
    try:
        store.create_tables()
    except StoreError:
        store.close()
        raise
    return store


def _message_upsert(dialect: Any) -> Any:
    """INSERT ... ON CONFLICT (id) DO UPDATE of a whole message-log row, built once: each
    call only binds its values (no statement built and cache key computed per message)."""
    stmt = dialect.insert(s.messages)
    return stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={c.name: stmt.excluded[c.name] for c in s.messages.c if c.name != "id"})


_UPSERT_PG = _message_upsert(postgresql)
_UPSERT_LITE = _message_upsert(sqlite)


class SqlStore(Store):
    """:class:`~mailward.store.base.Store` on a SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock
        #: Message-log rows recorded at the same time (SMTP sessions) share one transaction.
        self._log_rows: GroupTransaction[dict[str, Any]] = GroupTransaction(
            lambda: self._tx("record messages", write=True), self._upsert_rows,
            self._record_alone)

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _tx(self, what: str, *, write: bool = False) -> Iterator[Connection]:
        """One transaction; any SQLAlchemy failure becomes StoreError naming ``what``."""
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})  # in place
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            detail = getattr(exc, "orig", None) or exc  # the driver's message, without the SQL
            raise StoreError(f"store failed to {what}: {type(detail).__name__}: {detail}") from exc

    def create_tables(self) -> None:
        """Bring the database to the newest schema (see :mod:`mailward.store.migrate`; safe
        from several processes at once)."""
        migrate.ensure_schema(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def _upsert(self, conn: Connection, values: Mapping[str, Any]) -> None:
        upsert = _UPSERT_PG if conn.dialect.name == "postgresql" else _UPSERT_LITE
        conn.execute(upsert, dict(values))

    def _upsert_rows(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        upsert = _UPSERT_PG if conn.dialect.name == "postgresql" else _UPSERT_LITE
        conn.execute(upsert, rows)

    def _insert_new(self, conn: Connection, values: Mapping[str, Any]) -> bool:
        """Insert a quarantine row unless its id exists; True when inserted."""
        # RETURNING, not rowcount: psycopg reports no rowcount for this statement.
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(_Q).values(**values).on_conflict_do_nothing()
        return conn.execute(insert.returning(_Q.c.id)).first() is not None

    # -- messages ---------------------------------------------------------------------------

    def record_message(self, rec: MessageRecord) -> None:
        """Upsert the row; returns once it is committed (in one transaction with the rows
        other threads record at the same time: :mod:`mailward.store._group`)."""
        self._log_rows.run(s.message_values(rec))

    def _record_alone(self, values: dict[str, Any]) -> None:
        with self._tx(f"record message {values['id']}", write=True) as conn:
            self._upsert(conn, values)

    def get_message(self, id: str) -> MessageRecord | None:
        with self._tx(f"read message {id}") as conn:
            row = conn.execute(select(s.messages).where(s.messages.c.id == id)).first()
        return None if row is None else s.message_from_row(row)

    def recent_messages(self, limit: int = 50) -> list[MessageRecord]:
        m = s.messages
        query = select(m).order_by(m.c.received_at.desc(), m.c.id.desc()).limit(limit)
        with self._tx("list recent messages") as conn:
            return [s.message_from_row(row) for row in conn.execute(query)]

    # -- quarantine -------------------------------------------------------------------------

    def quarantine(self, rec: MessageRecord, raw: bytes) -> bool:
        recipients = list(dict.fromkeys(rec.rcpt_tos))
        if not recipients:
            raise StoreError(f"cannot quarantine message {rec.id}: it has no recipients")
        now = self._clock()
        values = {k: v for k, v in s.message_values(rec).items() if k not in ("peer_ip", "sha256")}
        values.update(quarantined_at=now, raw=bytes(raw))
        with self._tx(f"quarantine message {rec.id}", write=True) as conn:
            if not self._insert_new(conn, values):
                return False
            rows = [
                {
                    "quarantine_id": rec.id,
                    "recipient": r,
                    "position": i,
                    "status": HELD,
                    "changed_at": now,
                }
                for i, r in enumerate(recipients)
            ]
            conn.execute(_QR.insert(), rows)
        return True

    def list_quarantine(self, status: str | None = HELD, limit: int = 100) -> list[QuarantineEntry]:
        if status is not None and status not in ENTRY_STATUSES:
            raise ValueError(f"unknown quarantine status {status!r}")
        query = select(*_QUARANTINE_COLUMNS)
        if status is not None:
            counts, status_expr = _status_subquery()
            query = query.join(counts, counts.c.qid == _Q.c.id).where(status_expr == status)
        query = query.order_by(_Q.c.received_at.desc(), _Q.c.id.desc()).limit(limit)
        with self._tx("list the quarantine") as conn:
            rows = list(conn.execute(query))
            recipients = _recipients_of(conn, [row.id for row in rows])
        return [s.entry_from_row(row, recipients.get(row.id, {})) for row in rows]

    def get_quarantine(self, id: str) -> QuarantineEntry | None:
        with self._tx(f"read quarantine entry {id}") as conn:
            row = conn.execute(select(*_QUARANTINE_COLUMNS).where(_Q.c.id == id)).first()
            if row is None:
                return None
            recipients = _recipients_of(conn, [id]).get(id, {})
        return s.entry_from_row(row, recipients)

    def quarantine_raw(self, id: str) -> bytes | None:
        with self._tx(f"read quarantined bytes of {id}") as conn:
            raw = conn.execute(select(_Q.c.raw).where(_Q.c.id == id)).scalar_one_or_none()
        return None if raw is None else bytes(raw)

    def release(
        self, id: str, recipients: Sequence[str] | None, actor: str, reason: str
    ) -> tuple[str, ...]:
        return self._settle(id, recipients, actor, reason, RELEASED)

    def delete(
        self, id: str, recipients: Sequence[str] | None, actor: str, reason: str
    ) -> tuple[str, ...]:
        return self._settle(id, recipients, actor, reason, DELETED)

    def _settle(
        self, id: str, recipients: Sequence[str] | None, actor: str, reason: str, new: str
    ) -> tuple[str, ...]:
        """Move held recipients to ``new`` ("released"/"deleted") and audit it, atomically."""
        action = "release" if new == RELEASED else "delete"
        now = self._clock()
        with self._tx(f"{action} quarantine entry {id}", write=True) as conn:
            current = _lock_recipients(conn, id)
            targets = _targets(id, current, recipients)
            if targets:
                conn.execute(
                    update(_QR)
                    .where(
                        and_(
                            _QR.c.quarantine_id == id,
                            _QR.c.recipient.in_(targets),
                            _QR.c.status == HELD,
                        )
                    )
                    .values(status=new, changed_at=now)
                )
            after = {**current, **dict.fromkeys(targets, new)}
            if derive_status(list(after.values())) == DELETED:
                conn.execute(update(_Q).where(_Q.c.id == id).values(raw=b""))
            _insert_audit(
                conn,
                at=now,
                actor=actor,
                action=action,
                object_id=id,
                recipients=targets,
                reason=reason,
            )
        return targets

    # -- audit ------------------------------------------------------------------------------

    def audit(
        self, actor: str, action: str, object_id: str, recipients: Sequence[str], reason: str
    ) -> None:
        with self._tx(f"write audit line for {object_id}", write=True) as conn:
            _insert_audit(
                conn,
                at=self._clock(),
                actor=actor,
                action=action,
                object_id=object_id,
                recipients=recipients,
                reason=reason,
            )

    def audit_log(self, object_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        a = s.audit_log
        query = select(a).order_by(a.c.id.desc()).limit(limit)
        if object_id is not None:
            query = query.where(a.c.object_id == object_id)
        with self._tx("read the audit log") as conn:
            rows = list(conn.execute(query))
        return [
            AuditEntry(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                object_id=row.object_id,
                recipients=s.strings(row.recipients),
                reason=row.reason,
            )
            for row in rows
        ]


# -- helpers --------------------------------------------------------------------------------


def _recipients_of(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """recipient -> status for each entry id, in envelope order."""
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


def _status_subquery() -> tuple[Any, Any]:
    """A per-entry count subquery and the SQL expression of the derived status."""

    def count(status: str) -> Any:
        return func.sum(case((_QR.c.status == status, 1), else_=0))

    counts = (
        select(
            _QR.c.quarantine_id.label("qid"),
            func.count().label("n"),
            count(HELD).label("held"),
            count(RELEASED).label("released"),
            count(DELETED).label("deleted"),
        )
        .group_by(_QR.c.quarantine_id)
        .subquery()
    )
    status_expr = case(
        (counts.c.held == counts.c.n, HELD),
        (counts.c.released == counts.c.n, RELEASED),
        (counts.c.deleted == counts.c.n, DELETED),
        else_=PARTIAL,
    )
    return counts, status_expr


def _lock_recipients(conn: Connection, id: str) -> dict[str, str]:
    """recipient -> status of entry ``id``, rows locked; StoreError when there is no entry."""
    query = (
        select(_QR.c.recipient, _QR.c.status)
        .where(_QR.c.quarantine_id == id)
        .order_by(_QR.c.position)
        .with_for_update()
    )
    current = {recipient: status for recipient, status in conn.execute(query)}
    if not current:
        raise StoreError(f"no quarantine entry with id {id!r}")
    return current


def _targets(
    id: str, current: Mapping[str, str], recipients: Sequence[str] | None
) -> tuple[str, ...]:
    """The requested recipients that are still held (all held ones when None)."""
    if isinstance(recipients, str):
        raise TypeError("recipients must be a sequence of addresses, not one string")
    if recipients is None:
        return tuple(r for r, status in current.items() if status == HELD)
    unknown = [r for r in dict.fromkeys(recipients) if r not in current]
    if unknown:
        raise StoreError(
            f"quarantine entry {id!r} has no recipient {', '.join(unknown)}; "
            f"its recipients are {', '.join(current)}"
        )
    return tuple(r for r in dict.fromkeys(recipients) if current[r] == HELD)


def _insert_audit(
    conn: Connection,
    *,
    at: float,
    actor: str,
    action: str,
    object_id: str,
    recipients: Sequence[str],
    reason: str,
) -> None:
    conn.execute(
        s.audit_log.insert().values(
            at=at,
            actor=actor,
            action=action,
            object_id=object_id,
            recipients=list(recipients),
            reason=reason,
        )
    )
