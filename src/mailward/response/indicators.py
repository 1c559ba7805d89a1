"""Indicators of one delivered message, and the journal entry built from them.

Public surface:

- :func:`entry_from_message` raw bytes + ParsedMessage + envelope + verdict + where each copy
  went -> :class:`~mailward.response.journal.JournalEntry`;
- :func:`normalise_indicator` the match key of a hunted value (the same the journal stores);
- :func:`subject_fingerprint` a subject's campaign fingerprint;
- :func:`maildir_location`, :func:`relay_location`, :func:`imap_location` the copy locations.

URL keys are the threat feeds' (:func:`mailward.feeds.normalise_url`: scheme-less, lower-case
host, no default port), so a feed entry and a hunt ask for the same key.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from mailward.config.settings import LimitSettings
from mailward.errors import LimitExceeded, ParseError
from mailward.feeds import normalise_url
from mailward.mime import parse_message
from mailward.model import Attachment, Envelope, ParsedMessage, Verdict
from mailward.response._keys import KINDS, Kind, normalise_indicator, subject_fingerprint
from mailward.response.journal import AttachmentDigest, JournalEntry

__all__ = [
    "KINDS",
    "Kind",
    "attachment_digest",
    "entry_from_message",
    "imap_location",
    "maildir_location",
    "normalise_indicator",
    "relay_location",
    "subject_fingerprint",
]


def maildir_location(path: Path | str) -> str:
    return f"maildir:{path}"


def relay_location(host: str) -> str:
    return f"relay:{host}"


def imap_location(mailbox: str) -> str:
    return f"imap:{mailbox}"


def attachment_digest(att: Attachment) -> AttachmentDigest:
    """Name, size and SHA-256/MD5/SHA-1 of one attachment (MD5 and SHA-1 for matching feeds
    and reports that still use them, not for security)."""
    data = att.content
    return AttachmentDigest(
        filename=att.filename or "",
        size=att.size,
        sha256=att.sha256.lower() or hashlib.sha256(data).hexdigest(),
        md5=att.md5 or hashlib.md5(data, usedforsecurity=False).hexdigest(),
        sha1=att.sha1 or hashlib.sha1(data, usedforsecurity=False).hexdigest(),
    )


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _link_keys(parsed: ParsedMessage) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    urls = _unique(normalise_url(u.url) or "" for u in parsed.urls)
    hosts = _unique(u.host for u in parsed.urls)
    domains = _unique(u.domain for u in parsed.urls)
    return urls, hosts, domains


def _parse(raw: bytes) -> ParsedMessage | None:
    try:
        return parse_message(raw, LimitSettings())
    except (LimitExceeded, ParseError):
        return None


def entry_from_message(
    spool_id: str,
    raw: bytes,
    envelope: Envelope,
    verdict: Verdict,
    copies: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    parsed: ParsedMessage | None = None,
    *,
    keep_raw: bool = True,
) -> JournalEntry:
    """The journal entry of one delivered message.

    ``parsed`` is the scan's ParsedMessage; when None the bytes are parsed here (with default
    limits; a message that cannot be parsed is journaled with its envelope only). ``copies``
    maps recipients to locations (see :func:`maildir_location` and friends). ``raw`` should be
    the bytes as received, so a re-scan sees what the first scan saw.
    """
    if parsed is None:
        parsed = _parse(raw)
    pairs = tuple(copies.items() if isinstance(copies, Mapping) else copies)
    base = JournalEntry(
        spool_id=spool_id, received_at=envelope.received_at, mail_from=envelope.mail_from,
        recipients=envelope.rcpt_tos, action=str(verdict.action), score=verdict.score,
        peer_ip=envelope.peer_ip, copies=pairs, raw=raw if keep_raw else None,
    )
    if parsed is None:
        return base
    sender = parsed.from_[0] if parsed.from_ else None
    urls, hosts, domains = _link_keys(parsed)
    return dataclasses.replace(
        base,
        from_address=sender.address if sender else "",
        from_domain=sender.domain if sender else "",
        subject=parsed.subject, message_id=parsed.message_id,
        urls=urls, hosts=hosts, domains=domains,
        attachments=tuple(attachment_digest(a) for a in parsed.attachments),
    )
