"""The journal's tables (SQLAlchemy Core, own MetaData) and the rows of one entry.

journal             one row per delivered message: spool id (unique), time, senders, subject
                    and its fingerprint, Message-ID, action, score, recipients, link and
                    attachment details (JSON)
journal_copies      where each recipient's copy went: "maildir:<path>", "relay:<host>" or
                    "imap:<mailbox>"
journal_raw         the message bytes as received (compressed: see _raw), until purged
journal_indicators  one row per (kind, value, message); its primary key (kind, value,
                    received_at, journal_id) is the lookup index: one seek, newest first, the
                    time window inside the seek. On SQLite a WITHOUT ROWID table. Indexed by
                    journal_id too, for the foreign-key checks when the journal is purged.

The tables are created and changed by the migrations in mailward/store/migrations: a change
here needs a new revision there (the schema test fails until it has one).

Only portable types (Integer, String, Text, Float, LargeBinary, JSON): SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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

from mailward.response import _raw
from mailward.response._keys import normalise_indicator, subject_fingerprint

JOURNAL_METADATA = MetaData()

journal = Table(
    "journal",
    JOURNAL_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("spool_id", String(128), nullable=False, unique=True),
    Column("received_at", Float, nullable=False),
    Column("mail_from", Text, nullable=False),
    Column("peer_ip", String(64), nullable=False),
    Column("from_address", Text, nullable=False),
    Column("from_domain", String(255), nullable=False),
    Column("subject", Text, nullable=False),
    Column("subject_fp", String(16), nullable=False),
    Column("message_id", Text, nullable=False),
    Column("action", String(32), nullable=False),
    Column("score", Float, nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Index("ix_journal_received_at", "received_at"),
)

journal_copies = Table(
    "journal_copies",
    JOURNAL_METADATA,
    Column("journal_id", Integer, ForeignKey("journal.id"), primary_key=True),
    Column("recipient", String(512), primary_key=True),
    Column("location", Text, nullable=False),
)

journal_raw = Table(
    "journal_raw",
    JOURNAL_METADATA,
    Column("journal_id", Integer, ForeignKey("journal.id"), primary_key=True),
    Column("received_at", Float, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Index("ix_journal_raw_received_at", "received_at"),
)

journal_indicators = Table(
    "journal_indicators",
    JOURNAL_METADATA,
    Column("kind", String(16), primary_key=True),
    Column("value", String(512), primary_key=True),
    Column("received_at", Float, primary_key=True),
    Column("journal_id", Integer, ForeignKey("journal.id"), primary_key=True),
    Index("ix_journal_indicators_journal_id", "journal_id"),  # the purge's foreign-key checks
    sqlite_with_rowid=False,
)

@dataclass(frozen=True, slots=True)
class AttachmentDigest:
    """One attachment's name, size and digests (lower-case hex)."""

    filename: str
    size: int
    sha256: str
    md5: str
    sha1: str


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """Everything journaled about one delivered message (see :func:`entry_from_message`).

    ``urls`` are normalised match keys (scheme-less), ``hosts``/``domains`` the links' hosts
    and registrable domains; ``copies`` maps each recipient to where its copy went.
    """

    spool_id: str
    received_at: float
    mail_from: str
    recipients: tuple[str, ...]
    from_address: str = ""
    from_domain: str = ""
    subject: str = ""
    message_id: str = ""
    action: str = "deliver"
    score: float = 0.0
    peer_ip: str = ""
    urls: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    attachments: tuple[AttachmentDigest, ...] = ()
    copies: tuple[tuple[str, str], ...] = ()
    raw: bytes | None = field(default=None, repr=False)

    @property
    def subject_fp(self) -> str:
        return subject_fingerprint(self.subject)


@dataclass(frozen=True, slots=True)
class JournalHit:
    """One journaled message as a hunt answers it: who sent what to whom, and where it went."""

    journal_id: int
    spool_id: str
    received_at: float
    mail_from: str
    from_address: str
    subject: str
    message_id: str
    action: str
    score: float
    recipients: tuple[str, ...]
    copies: tuple[tuple[str, str], ...] = ()
    matched: tuple[str, ...] = ()
    peer_ip: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "journal_id": self.journal_id,
            "spool_id": self.spool_id,
            "received_at": self.received_at,
            "mail_from": self.mail_from,
            "from": self.from_address,
            "subject": self.subject,
            "message_id": self.message_id,
            "action": self.action,
            "score": round(self.score, 2),
            "recipients": list(self.recipients),
            "copies": [{"recipient": r, "location": loc} for r, loc in self.copies],
            "matched": list(self.matched),
        }


def entry_indicators(entry: JournalEntry, subject_fp: str | None = None) -> set[tuple[str, str]]:
    """The (kind, key) pairs an entry is found by; values that do not normalise are left out.
    ``subject_fp``: the entry's subject fingerprint when the caller has it already."""
    candidates: list[tuple[str, str]] = [
        ("sender", entry.mail_from),
        ("sender", entry.from_address),
        ("sender_domain", entry.mail_from.rpartition("@")[2] if "@" in entry.mail_from else ""),
        ("sender_domain", entry.from_domain),
        ("subject_fp", subject_fp or entry.subject_fp),
        ("message_id", entry.message_id),
    ]
    candidates += [("url", u) for u in entry.urls]
    candidates += [("host", h) for h in entry.hosts]
    candidates += [("domain", d) for d in entry.domains]
    for att in entry.attachments:
        candidates += [("hash", att.sha256), ("hash", att.md5), ("hash", att.sha1)]
    out: set[tuple[str, str]] = set()
    for kind, value in candidates:
        key = normalise_indicator(kind, value) if value else None
        if key:
            out.add((kind, key))
    return out


def details_of(entry: JournalEntry) -> dict[str, Any]:
    return {
        "urls": list(entry.urls),
        "hosts": list(entry.hosts),
        "domains": list(entry.domains),
        "attachments": [
            {"filename": a.filename, "size": a.size, "sha256": a.sha256, "md5": a.md5,
             "sha1": a.sha1}
            for a in entry.attachments
        ],
    }


def entry_rows(
    entry: JournalEntry, journal_id: int | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], dict[str, Any] | None]:
    """The rows of one entry: journal row, indicator rows, copy rows, raw row (or None).

    ``journal_id`` None leaves the id to the database (the journal row then has no "id", and
    the other rows get it filled in by :meth:`Journal.record`). Used by bulk loaders too.
    """
    fp = entry.subject_fp
    row: dict[str, Any] = {
        "spool_id": entry.spool_id, "received_at": entry.received_at,
        "mail_from": entry.mail_from, "peer_ip": entry.peer_ip,
        "from_address": entry.from_address, "from_domain": entry.from_domain,
        "subject": entry.subject, "subject_fp": fp,
        "message_id": entry.message_id, "action": entry.action, "score": entry.score,
        "recipients": list(entry.recipients), "details": details_of(entry),
    }
    if journal_id is not None:
        row["id"] = journal_id
    indicators = [
        {"kind": k, "value": v, "received_at": entry.received_at, "journal_id": journal_id}
        for k, v in sorted(entry_indicators(entry, fp))
    ]
    copies = [
        {"journal_id": journal_id, "recipient": r, "location": loc}
        for r, loc in dict(entry.copies).items()
    ]
    raw = None
    if entry.raw is not None:
        raw = {"journal_id": journal_id, "received_at": entry.received_at,
               "raw": _raw.pack(entry.raw)}
    return row, indicators, copies, raw


def hit_from_row(
    row: Row[Any], copies: tuple[tuple[str, str], ...], matched: tuple[str, ...]
) -> JournalHit:
    """A JournalHit from a ``journal`` row and its copies."""
    details = row.details if isinstance(row.details, dict) else {}
    return JournalHit(
        journal_id=int(row.id), spool_id=str(row.spool_id), received_at=float(row.received_at),
        mail_from=str(row.mail_from), from_address=str(row.from_address),
        subject=str(row.subject), message_id=str(row.message_id), action=str(row.action),
        score=float(row.score), recipients=tuple(str(r) for r in row.recipients),
        copies=copies, matched=matched, peer_ip=str(row.peer_ip), details=details,
    )
