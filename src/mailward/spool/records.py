"""What the spool processor keeps and hands back: the verdict as saved in an entry's state,
the outcome of one processing, the message-log record of a scan, the delivered copies a
journal entry lists, the authserv-ids whose Authentication-Results a delivery keeps."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from mailward.config.settings import Settings
from mailward.delivery.maildir import MaildirDelivery
from mailward.engine.pipeline import ScanOutcome
from mailward.model import Action, Envelope, Verdict, findings_from_json
from mailward.response.indicators import maildir_location, relay_location
from mailward.store import MessageRecord

__all__ = [
    "Outcome",
    "delivered_copies",
    "message_record",
    "trusted_authserv_ids",
    "verdict_from_state",
    "verdict_to_state",
]


def verdict_to_state(verdict: Verdict) -> dict[str, Any]:
    data = dict(verdict.to_json())
    data["add_headers"] = [list(h) for h in verdict.add_headers]
    data["subject_prefix"] = verdict.subject_prefix
    return data


def verdict_from_state(data: dict[str, Any]) -> Verdict:
    return Verdict(
        action=Action(data["action"]),
        score=float(data["score"]),
        reason=str(data["reason"]),
        findings=findings_from_json(data.get("findings", [])),
        add_headers=tuple((str(n), str(v)) for n, v in data.get("add_headers", [])),
        subject_prefix=data.get("subject_prefix"),
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one processing of an entry came to: ``finished`` (removed from the spool) or
    not, and the action taken (or "hold", "deferred")."""

    entry_id: str
    finished: bool
    action: str


def trusted_authserv_ids(settings: Settings) -> tuple[str, ...]:
    """authserv-ids whose Authentication-Results the auth detector trusts: kept on delivery."""
    value = settings.detectors.get("auth", {}).get("trust_authentication_results_from", ())
    values = (value,) if isinstance(value, str) else tuple(value or ())
    return tuple(str(v).strip().lower() for v in values if str(v).strip())


def delivered_copies(
    settings: Settings, entry_id: str, done: dict[str, str],
    maildir: MaildirDelivery | None = None,
) -> list[tuple[str, str]]:
    """(recipient, location) of each delivered copy, as the journal keeps them (``maildir``:
    the delivery that made the copies, which knows their Maildirs already)."""
    copies = []
    maildir = maildir or MaildirDelivery(settings.maildir_root)
    for rcpt, outcome in done.items():
        if outcome == "delivered":
            path = maildir.copy_path(entry_id, rcpt)
            copies.append((rcpt, maildir_location(path)))
        elif outcome == "relayed":
            copies.append((rcpt, relay_location(settings.delivery.relay.host or "")))
        elif outcome == "lmtp":  # in the mail store's INBOX: claw back over IMAP
            lmtp = settings.delivery.lmtp
            copies.append((rcpt, f"lmtp:{lmtp.path or f'{lmtp.host}:{lmtp.port}'}"))
    return copies


def message_record(
    entry_id: str, envelope: Envelope, raw: bytes, outcome: ScanOutcome
) -> MessageRecord:
    parsed = outcome.parsed
    return MessageRecord(
        id=entry_id,
        received_at=envelope.received_at,
        mail_from=envelope.mail_from,
        rcpt_tos=envelope.rcpt_tos,
        peer_ip=envelope.peer_ip,
        message_id=parsed.message_id if parsed else "",
        subject=parsed.subject if parsed else "",
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        score=outcome.verdict.score,
        action=str(outcome.verdict.action),
        reason=outcome.verdict.reason,
        findings=outcome.verdict.findings,
    )
