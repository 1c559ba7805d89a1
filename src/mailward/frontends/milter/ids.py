"""mailward's ids for messages that came through the milter (apart from the milter's verdicts,
so that a release can tell them without importing the engine)."""

from __future__ import annotations

import re

from mailward.spool.queue import new_spool_id

#: Marks the mailward ids of messages that came through the milter (never in a spool id).
MILTER_ID_MARK = "-pf-"
_QUEUE_ID_CHARS = re.compile(r"[^0-9a-z]")


def milter_id(queue_id: str, now: float | None = None) -> str:
    """mailward's id for a message of the MTA: a spool id, the mark and the MTA's queue id, so
    either log leads to the other (``0193a...-pf-4f2a31c0d2``)."""
    qid = _QUEUE_ID_CHARS.sub("", queue_id.lower())[:40] or "noqueueid"
    return f"{new_spool_id(now)}{MILTER_ID_MARK}{qid}"


def is_milter_id(entry_id: str) -> bool:
    return MILTER_ID_MARK in entry_id
