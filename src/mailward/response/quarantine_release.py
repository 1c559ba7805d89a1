"""Releasing a quarantined message as an analyst does (CLI and console): the message goes
back to the spool for its released recipients through :func:`mailward.response.requeue.requeue`
(the one release path: idempotent spool id, recipients marked released and audited, milter
mail re-injected into the MTA), and the release is recorded as ham for the content model. The
caller then has the message processed (delivered) at once or leaves it to the workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailward.config.settings import Settings
from mailward.response.requeue import held_entry, requeue
from mailward.store import Store
from mailward.store.feedback import record_release_feedback

__all__ = ["QuarantineRelease", "held_entry", "release_quarantined"]


@dataclass(frozen=True, slots=True)
class QuarantineRelease:
    entry_id: str
    released: tuple[str, ...]
    spool_id: str


def release_quarantined(
    settings: Settings, store: Store, entry_id: str, rcpts: Sequence[str] | None,
    actor: str, reason: str,
) -> QuarantineRelease:
    """Queue entry ``entry_id`` for ``rcpts`` (all held when None or empty); StoreError when
    a named recipient is not held, nothing is held, or the bytes are gone."""
    wanted = list(dict.fromkeys(rcpts)) if rcpts else None
    done = requeue(settings, store, entry_id, wanted, actor, reason)
    # A release is an analyst saying "this was not bad": the content model learns from it.
    record_release_feedback(settings, done.raw, actor, reason)
    return QuarantineRelease(entry_id, done.released, done.spool_id)
