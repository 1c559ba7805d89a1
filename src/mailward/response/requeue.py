"""Release quarantined mail: the one path every release takes (`mailward quarantine release`,
closing an alert that held an account's outbound mail).

The held bytes are put back in the spool (without another scan) under an id derived from the
release, so a repeat after a crash is idempotent; the store marks the recipients released and
writes the audit line (who, when, why); the gateway's own processor then delivers and journals
the message (what it cannot deliver now, the running gateway's workers finish).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from mailward.config.settings import Settings
from mailward.errors import StoreError
from mailward.frontends.milter.ids import is_milter_id
from mailward.model import Envelope
from mailward.spool.queue import Spool
from mailward.store import QuarantineEntry, Store


@dataclass(frozen=True, slots=True)
class Requeued:
    spool_id: str
    released: tuple[str, ...]
    raw: bytes


def held_entry(store: Store, entry_id: str) -> QuarantineEntry:
    entry = store.get_quarantine(entry_id)
    if entry is None:
        raise StoreError(f"no quarantined message with id {entry_id!r}")
    return entry


def requeue(
    settings: Settings, store: Store, entry_id: str, rcpts: Sequence[str] | None,
    actor: str, reason: str, *, rescan: bool = False,
) -> Requeued:
    """Spool a quarantined message for its held recipients (all when ``rcpts`` is None) and
    mark them released (audited). StoreError when nothing asked for is held. ``rescan``: the
    message is scanned and decided again instead of delivered as it is."""
    entry = held_entry(store, entry_id)
    held = [r for r, s in entry.recipients.items() if s == "held"]
    wanted = list(rcpts or held)
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
    flags: dict[str, object] = {"why": f"released by {actor}: {reason}"}
    if not rescan:
        flags["skip_scan"] = True
    if is_milter_id(entry_id):  # it came through the milter: back into the MTA
        flags["reinject"] = True
    spool_id = spool.put(envelope, raw, entry_id=f"rel-{entry_id}-{tag}", flags=flags)
    released = store.release(entry_id, wanted, actor, reason)
    return Requeued(spool_id, released, raw)
