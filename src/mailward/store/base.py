"""The store interface and the records it keeps.

:class:`Store` is the boundary every other part of mailward talks to: the message journal
(one :class:`MessageRecord` per scanned message), the quarantine (a :class:`QuarantineEntry`
plus the raw bytes, with a status per recipient) and the audit log (:class:`AuditEntry`: who did
what to which message, when and why). The API is synchronous; async callers run it in a
thread. Every backend raises :class:`mailward.errors.StoreError` when it fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol, runtime_checkable

from mailward.model import Finding

#: A recipient's status in the quarantine.
RecipientStatus = Literal["held", "released", "deleted"]
#: An entry's status, derived from its recipients' statuses.
EntryStatus = Literal["held", "released", "deleted", "partial"]

HELD: Final = "held"
RELEASED: Final = "released"
DELETED: Final = "deleted"
PARTIAL: Final = "partial"
ENTRY_STATUSES: Final = frozenset({HELD, RELEASED, DELETED, PARTIAL})


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """What the gateway decided about one message: envelope, summary, score, action, findings."""

    id: str
    received_at: float
    mail_from: str
    rcpt_tos: tuple[str, ...]
    peer_ip: str
    message_id: str
    subject: str
    size: int
    sha256: str
    score: float
    action: str
    reason: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A quarantined message (without its bytes) and the status of each of its recipients."""

    id: str
    received_at: float
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message_id: str
    subject: str
    score: float
    action: str
    reason: str
    findings: tuple[Finding, ...]
    size: int
    status: str  # "held" | "released" | "deleted" | "partial"
    recipients: dict[str, str]  # recipient -> "held" | "released" | "deleted"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log: who (actor) did what (action) to which object, when, why."""

    id: int
    at: float
    actor: str
    action: str
    object_id: str
    recipients: tuple[str, ...]
    reason: str


def derive_status(statuses: Sequence[str]) -> str:
    """An entry's status from its recipients': all alike -> that status, else ``partial``."""
    distinct = set(statuses)
    if len(distinct) == 1:
        return distinct.pop()
    return PARTIAL if distinct else HELD


@runtime_checkable
class Store(Protocol):
    """The message journal, the quarantine and the audit log.

    Every method raises :class:`mailward.errors.StoreError` when the backend fails; callers
    answer with a temporary failure and never drop the message.
    """

    def record_message(self, rec: MessageRecord) -> None:
        """Insert or replace the record with ``rec.id`` (a re-scan never duplicates)."""
        ...

    def get_message(self, id: str) -> MessageRecord | None:
        """The record with this id, or None."""
        ...

    def recent_messages(self, limit: int = 50) -> list[MessageRecord]:
        """The newest records first."""
        ...

    def quarantine(self, rec: MessageRecord, raw: bytes) -> bool:
        """Hold ``raw`` for every recipient; False (and no change) when ``rec.id`` is held."""
        ...

    def list_quarantine(self, status: str | None = HELD, limit: int = 100) -> list[QuarantineEntry]:
        """Entries with this derived status (any when None), newest first."""
        ...

    def get_quarantine(self, id: str) -> QuarantineEntry | None:
        """The entry with this id, or None."""
        ...

    def quarantine_raw(self, id: str) -> bytes | None:
        """The held bytes (empty once every recipient is deleted), or None for an unknown id."""
        ...

    def release(
        self, id: str, recipients: Sequence[str] | None, actor: str, reason: str
    ) -> tuple[str, ...]:
        """Mark held recipients (all when None) released; audit it; return those released."""
        ...

    def delete(
        self, id: str, recipients: Sequence[str] | None, actor: str, reason: str
    ) -> tuple[str, ...]:
        """Mark held recipients (all when None) deleted; audit it; return those deleted."""
        ...

    def audit(
        self, actor: str, action: str, object_id: str, recipients: Sequence[str], reason: str
    ) -> None:
        """Append one line to the audit log."""
        ...

    def audit_log(self, object_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Audit lines (for one object when given), newest first."""
        ...

    def close(self) -> None:
        """Release connections; the store may not be used afterwards."""
        ...
