"""Releasing a quarantined message: spool it for its released recipients, mark them released
(audited), and record it as ham for the content model. The CLI and the console both call this;
the caller then has the message processed (delivered) at once or leaves it to the workers.

The spool entry is written first, under an id derived from the entry and the recipients, so a
repeat after a crash is idempotent and the message is never marked released without being
queued for delivery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from mailward.config.settings import Settings
from mailward.errors import StoreError
from mailward.frontends.milter.verdicts import is_milter_id
from mailward.model import Envelope
from mailward.spool.queue import Spool
from mailward.store import QuarantineEntry, Store
from mailward.store.feedback import record_release_feedback


@dataclass(frozen=True, slots=True)
class QuarantineRelease:
    entry_id: str
    released: tuple[str, ...]
    spool_id: str


def held_entry(store: Store, entry_id: str) -> QuarantineEntry:
    """The entry, or StoreError naming the id."""
    entry = store.get_quarantine(entry_id)
    if entry is None:
        raise StoreError(f"no quarantined message with id {entry_id!r}")
    return entry


def release_quarantined(
    settings: Settings, store: Store, entry_id: str, rcpts: Sequence[str] | None,
    actor: str, reason: str,
) -> QuarantineRelease:
    """Queue entry ``entry_id`` for ``rcpts`` (all held when None or empty); StoreError when
    a named recipient is not held, nothing is held, or the bytes are gone."""
    entry = held_entry(store, entry_id)
    held = [r for r, s in entry.recipients.items() if s == "held"]
    wanted = list(dict.fromkeys(rcpts)) if rcpts else held
    if not wanted:
        raise StoreError(f"{entry_id}: not held for any recipient (status {entry.status})")
    not_held = [r for r in wanted if r not in held]
    if not_held:
        raise StoreError(f"{entry_id}: not held for {', '.join(not_held)}")
    raw = store.quarantine_raw(entry_id)
    if not raw:
        raise StoreError(f"{entry_id}: the message bytes are gone")
    tag = hashlib.sha1("\n".join(sorted(wanted)).encode(), usedforsecurity=False).hexdigest()[:8]
    spool = Spool(settings.spool_dir)
    envelope = Envelope(mail_from=entry.mail_from, rcpt_tos=tuple(wanted),
                        received_at=entry.received_at, internal=True)
    flags: dict[str, object] = {"skip_scan": True, "why": f"released by {actor}: {reason}"}
    if is_milter_id(entry_id):  # it came through the milter: back into the MTA
        flags["reinject"] = True
    spool_id = spool.put(envelope, raw, entry_id=f"rel-{entry_id}-{tag}", flags=flags)
    released = store.release(entry_id, wanted, actor, reason)
    # A release is an analyst saying "this was not bad": the content model learns from it.
    record_release_feedback(settings, raw, actor, reason)
    return QuarantineRelease(entry_id, released, spool_id)
