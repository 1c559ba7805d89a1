"""The SQL tables of the store, in portable SQLAlchemy Core types, and the row codecs.

Only String, Text, Float, Integer, LargeBinary and JSON are used, and times are Float epoch
seconds, so the same tables work on SQLite and PostgreSQL.

messages               one row per scanned message (the journal), upserted by id
quarantine             held messages: summary, findings and the raw bytes
quarantine_recipients  one row per (message, recipient) with its status and when it changed
audit_log              who did what to which object, when and why

The tables are created and changed by the migrations in mailward/store/migrations (every part's
tables: see mailward.store.tables); a change here needs a new revision there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Text,
)

from mailward.model import Finding
from mailward.store.base import MessageRecord, QuarantineEntry, derive_status

METADATA = MetaData()

messages = Table(
    "messages",
    METADATA,
    Column("id", String(128), primary_key=True),
    Column("received_at", Float, nullable=False),
    Column("mail_from", Text, nullable=False),
    Column("rcpt_tos", JSON, nullable=False),
    Column("peer_ip", String(64), nullable=False),
    Column("message_id", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("score", Float, nullable=False),
    Column("action", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("findings", JSON, nullable=False),
    Index("ix_messages_received_at", "received_at"),
)

quarantine = Table(
    "quarantine",
    METADATA,
    Column("id", String(128), primary_key=True),
    Column("received_at", Float, nullable=False),
    Column("mail_from", Text, nullable=False),
    Column("rcpt_tos", JSON, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("action", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("findings", JSON, nullable=False),
    Column("size", Integer, nullable=False),
    Column("quarantined_at", Float, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Index("ix_quarantine_received_at", "received_at"),
    Index("ix_quarantine_received_id", "received_at", "id"),  # the console's keyset paging
)

quarantine_recipients = Table(
    "quarantine_recipients",
    METADATA,
    Column("quarantine_id", String(128), ForeignKey("quarantine.id"), primary_key=True),
    Column("recipient", String(512), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("changed_at", Float, nullable=False),
    Index("ix_quarantine_recipients_recipient", "recipient"),  # the console's recipient filter
)

audit_log = Table(
    "audit_log",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_id", String(128), nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_audit_log_object_id", "object_id"),
)


def findings_to_rows(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """Every field of each finding, for a JSON column (lossless, unlike the API form)."""
    return [
        {
            "symbol": f.symbol,
            "explanation": f.explanation,
            "evidence": list(f.evidence),
            "factor": f.factor,
            "score": f.score,
            "detector": f.detector,
        }
        for f in findings
    ]


def findings_from_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[Finding, ...]:
    """The inverse of :func:`findings_to_rows`."""
    return tuple(
        Finding(
            symbol=str(row["symbol"]),
            explanation=str(row.get("explanation", "")),
            evidence=tuple(str(e) for e in row.get("evidence", ())),
            factor=float(row.get("factor", 1.0)),
            score=float(row.get("score", 0.0)),
            detector=str(row.get("detector", "")),
        )
        for row in rows
    )


def strings(value: Sequence[Any]) -> tuple[str, ...]:
    """A JSON list of strings as a tuple."""
    return tuple(str(v) for v in value)


def message_values(rec: MessageRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "received_at": float(rec.received_at),
        "mail_from": rec.mail_from,
        "rcpt_tos": list(rec.rcpt_tos),
        "peer_ip": rec.peer_ip,
        "message_id": rec.message_id,
        "subject": rec.subject,
        "size": int(rec.size),
        "sha256": rec.sha256,
        "score": float(rec.score),
        "action": str(rec.action),
        "reason": rec.reason,
        "findings": findings_to_rows(rec.findings),
    }


def message_from_row(row: Row[Any]) -> MessageRecord:
    return MessageRecord(
        id=row.id,
        received_at=row.received_at,
        mail_from=row.mail_from,
        rcpt_tos=strings(row.rcpt_tos),
        peer_ip=row.peer_ip,
        message_id=row.message_id,
        subject=row.subject,
        size=row.size,
        sha256=row.sha256,
        score=row.score,
        action=row.action,
        reason=row.reason,
        findings=findings_from_rows(row.findings),
    )


def entry_from_row(row: Row[Any], recipients: dict[str, str]) -> QuarantineEntry:
    return QuarantineEntry(
        id=row.id,
        received_at=row.received_at,
        mail_from=row.mail_from,
        rcpt_tos=strings(row.rcpt_tos),
        message_id=row.message_id,
        subject=row.subject,
        score=row.score,
        action=row.action,
        reason=row.reason,
        findings=findings_from_rows(row.findings),
        size=row.size,
        status=derive_status(list(recipients.values())),
        recipients=recipients,
    )
