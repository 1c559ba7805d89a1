"""Analyst feedback for the content classifier: messages labelled ham, spam or phish by a person.

Kept in its own table ``classifier_feedback`` (id, at, label, raw, actor, reason) beside the main
store, on the same SQLAlchemy URL (SQLite by default, PostgreSQL for scale). ``mailward report``
adds a sample; releasing a quarantined message adds it as ham through
:func:`record_release_feedback`; ``mailward train`` reads every sample back and weighs it more
than corpus mail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Float, Integer, LargeBinary, MetaData, String, Table, Text, select
from sqlalchemy.exc import SQLAlchemyError

from mailward.config.settings import Settings
from mailward.errors import StoreError
from mailward.store._engine import WRITE_OPTION, open_tables

LABELS = ("ham", "spam", "phish")

_METADATA = MetaData()
classifier_feedback = Table(
    "classifier_feedback",
    _METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("label", String(16), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("reason", Text, nullable=False),
)


@dataclass(frozen=True, slots=True)
class FeedbackSample:
    """One labelled message."""

    id: int
    at: float
    label: str
    raw: bytes
    actor: str
    reason: str


class FeedbackStore:
    """Labelled samples in table ``classifier_feedback``; errors raise StoreError."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = open_tables(url, _METADATA, "classifier_feedback")
        self._clock = clock

    def add(self, label: str, raw: bytes, actor: str, reason: str) -> int:
        """Record one sample; returns its id. ``label`` is ham, spam or phish."""
        if label not in LABELS:
            raise ValueError(f"label {label!r} is not one of {', '.join(LABELS)}")
        values: dict[str, Any] = {
            "at": self._clock(), "label": label, "raw": raw, "actor": actor, "reason": reason,
        }  # fmt: skip
        try:
            with self._engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    result = conn.execute(classifier_feedback.insert().values(**values))
                    key = result.inserted_primary_key
        except SQLAlchemyError as exc:
            raise StoreError(f"store failed to record feedback: {exc}") from exc
        return int(key[0]) if key is not None else 0

    def iter_samples(self, batch: int = 200) -> Iterator[FeedbackSample]:
        """Every sample, oldest first, read in batches."""
        last = 0
        while True:
            query = (
                select(classifier_feedback)
                .where(classifier_feedback.c.id > last)
                .order_by(classifier_feedback.c.id)
                .limit(batch)
            )
            try:
                with self._engine.connect() as conn, conn.begin():
                    rows = conn.execute(query).all()
            except SQLAlchemyError as exc:
                raise StoreError(f"store failed to read feedback: {exc}") from exc
            if not rows:
                return
            for row in rows:
                yield FeedbackSample(row.id, row.at, row.label, row.raw, row.actor, row.reason)
            last = rows[-1].id

    def close(self) -> None:
        self._engine.dispose()


def record_release_feedback(settings: Settings, raw: bytes, actor: str, reason: str) -> int:
    """Record a released quarantined message as ham in the store at ``settings.store_url``."""
    store = FeedbackStore(settings.store_url)
    try:
        return store.add("ham", raw, actor, f"released from quarantine: {reason}")
    finally:
        store.close()
