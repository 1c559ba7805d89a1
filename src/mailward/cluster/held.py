"""Held mail in the shared store, and release orders: how a cluster releases a lockdown's
backlog from any node, exactly once.

A node that holds a message (lockdown) *parks* it here: the envelope, flags and bytes are
written to ``held_mail`` (insert-if-absent, keyed by the spool id), then the local spool entry
is removed. A release is an order in ``release_orders``; the node that holds the release lock
*claims* each held row (``UPDATE ... WHERE state = 'held'``: one node wins each row, whatever
happens) and delivers it from its own spool (see :mod:`mailward.cluster.release`).
The tables are created with ``open_tables`` like every other store table.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from mailward.model import Envelope
from mailward.spool.queue import SpoolEntry
from mailward.store._engine import open_tables, transaction

HELD_METADATA = MetaData()
held_mail = Table(
    "held_mail",
    HELD_METADATA,
    Column("id", String(80), primary_key=True),
    Column("node", String(200), nullable=False),
    Column("held_at", Float, nullable=False, index=True),
    Column("envelope", Text, nullable=False),
    Column("flags", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("state", String(16), nullable=False, index=True),  # held | released
    Column("released_by", String(200)),
    Column("released_at", Float),
    Column("order_id", Integer),
)
release_orders = Table(
    "release_orders",
    HELD_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("requested_at", Float, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", String(2000), nullable=False),
    Column("node", String(200), nullable=False),
    Column("done_at", Float),
    Column("done_by", String(200)),
)


@dataclass(frozen=True, slots=True)
class ReleaseOrder:
    id: int
    requested_at: float
    actor: str
    reason: str
    done_at: float | None


class HeldStore:
    """Held mail and release orders in the store at ``url`` (SQLite or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.engine = open_tables(url, HELD_METADATA, "held mail")

    def park(self, entry: SpoolEntry, node: str, held_at: float | None = None) -> bool:
        """Keep a held message here; False when it was already parked (a repeat after a crash)."""
        values = {
            "id": entry.id, "node": node, "held_at": time.time() if held_at is None else held_at,
            "envelope": json.dumps(dataclasses.asdict(entry.envelope)),
            "flags": json.dumps(dict(entry.flags)), "raw": entry.raw, "state": "held",
        }
        try:
            with transaction(self.engine, "park held mail", write=True) as conn:
                if conn.execute(select(held_mail.c.id).where(held_mail.c.id == entry.id)).first():
                    return False
                conn.execute(insert(held_mail).values(**values))
        except IntegrityError:  # another process parked it at the same instant
            return False
        return True

    def entry(self, entry_id: str) -> tuple[SpoolEntry, str, str | None] | None:
        """(the message as a spool entry, its state, who released it), or None."""
        with transaction(self.engine, "read held mail") as conn:
            row = conn.execute(select(held_mail).where(held_mail.c.id == entry_id)).first()
        if row is None:
            return None
        env: dict[str, Any] = json.loads(row.envelope)
        envelope = Envelope(**{**env, "rcpt_tos": tuple(env["rcpt_tos"])})
        return SpoolEntry(row.id, envelope, row.raw, json.loads(row.flags)), row.state, \
            row.released_by

    def claim(self, entry_id: str, node: str, order_id: int) -> bool:
        """Mark a held row released by ``node``; True for exactly one caller, ever."""
        with transaction(self.engine, "claim held mail", write=True) as conn:
            done = conn.execute(
                update(held_mail)
                .where(held_mail.c.id == entry_id, held_mail.c.state == "held")
                .values(state="released", released_by=node, released_at=time.time(),
                        order_id=order_id)
            )
        return bool(done.rowcount == 1)

    def pending(self, before: float, limit: int) -> list[str]:
        """Ids still held that were held at or before ``before``, oldest first."""
        q = (select(held_mail.c.id)
             .where(held_mail.c.state == "held", held_mail.c.held_at <= before)
             .order_by(held_mail.c.held_at, held_mail.c.id).limit(limit))
        with transaction(self.engine, "list held mail") as conn:
            return [str(r.id) for r in conn.execute(q)]

    def count(self, state: str = "held") -> int:
        q = select(func.count()).select_from(held_mail).where(held_mail.c.state == state)
        with transaction(self.engine, "count held mail") as conn:
            return int(conn.execute(q).scalar_one())

    def released_by_order(self, order_id: int) -> int:
        q = select(func.count()).select_from(held_mail).where(held_mail.c.order_id == order_id)
        with transaction(self.engine, "count released mail") as conn:
            return int(conn.execute(q).scalar_one())

    def add_order(self, actor: str, reason: str, node: str) -> int:
        """File a release of everything held until now; its id."""
        with transaction(self.engine, "file a release order", write=True) as conn:
            done = conn.execute(insert(release_orders).values(
                requested_at=time.time(), actor=actor[:200], reason=reason[:2000], node=node))
            key = done.inserted_primary_key
        assert key is not None
        return int(key[0])

    def open_order(self) -> ReleaseOrder | None:
        """The oldest release order not finished yet."""
        q = (select(release_orders).where(release_orders.c.done_at.is_(None))
             .order_by(release_orders.c.id).limit(1))
        with transaction(self.engine, "read release orders") as conn:
            row = conn.execute(q).first()
        return None if row is None else _order(row)

    def order(self, order_id: int) -> ReleaseOrder | None:
        with transaction(self.engine, "read a release order") as conn:
            row = conn.execute(
                select(release_orders).where(release_orders.c.id == order_id)).first()
        return None if row is None else _order(row)

    def finish_order(self, order_id: int, node: str) -> None:
        with transaction(self.engine, "finish a release order", write=True) as conn:
            conn.execute(update(release_orders)
                         .where(release_orders.c.id == order_id,
                                release_orders.c.done_at.is_(None))
                         .values(done_at=time.time(), done_by=node))

    def close(self) -> None:
        self.engine.dispose()


def _order(row: Any) -> ReleaseOrder:
    return ReleaseOrder(int(row.id), float(row.requested_at), str(row.actor), str(row.reason),
                        None if row.done_at is None else float(row.done_at))
