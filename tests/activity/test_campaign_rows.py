"""The campaign rows of messages stored together (store_batch: a run of one campaign's members
with one read, one insert and one update) equal those stored one after the other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from mailward.activity import _campaign_schema as t
from mailward.activity.campaign_index import Indicators
from mailward.activity.campaign_rows import Storing, store_batch, store_one
from mailward.store._engine import open_tables, transaction

MIN_MEMBERS = 3


def _item(n: int, cluster: str, *, infra: tuple[str, ...] = ("env:a.test",),
          merged: tuple[str, ...] = (), joined_by: str = "content") -> Storing:
    at = 1000.0 + (n * 37 % 11)  # not in order: first and last seen move both ways
    row = {"spool_id": f"m{n}", "at": at, "campaign_id": cluster, "mail_from": "a@a.test",
           "from_address": "a@a.test", "recipients": [f"u{n}@example.com"],
           "action": "deliver", "subject": f"s{n}", "score": 0.0, "joined_by": joined_by,
           "cluster_ms": 0.1, "signature": b"\0" * 8,
           "indicators": {"strong": [], "infra": list(infra)}}
    return Storing(row, Indicators((), infra), at, merged)


def _items() -> list[Storing]:
    return [
        _item(10, "c1"), _item(11, "c1", infra=("env:a.test", "link:new.test")), _item(12, "c1"),
        _item(13, "c2"), _item(14, "c2"),  # c2 is not a campaign yet: one after the other
        _item(15, "c3"), _item(16, "c3", infra=("from:b.test",)),  # c3 is bad
        _item(17, "c1"),
        _item(18, "c1", merged=("c2",)),  # a merge: alone
        _item(19, "c1"), _item(20, "c1", infra=("link:later.test",)),
        _item(21, "c4", joined_by="new"),
    ]


def _database(tmp_path: Path, name: str) -> Engine:
    engine = open_tables(f"sqlite:///{tmp_path / name}", t.CAMPAIGN_METADATA, "campaign")
    with transaction(engine, "seed", write=True) as conn:
        for n, cluster in enumerate(["c1", "c1", "c1", "c2", "c3", "c3", "c3"]):
            store_one(conn, _item(n, cluster), MIN_MEMBERS)
        conn.execute(update(t.campaigns).where(t.campaigns.c.id == "c3").values(state="bad"))
    return engine


def _dump(engine: Engine) -> dict[str, Any]:
    with transaction(engine, "read") as conn:
        return {table.name: [tuple(r) for r in conn.execute(select(table).order_by(
                    *table.primary_key.columns))]
                for table in (t.messages, t.campaigns, t.merges)}


def _found(items: list[Storing]) -> list[tuple[Any, ...]]:
    return [(i.is_campaign, i.bad, i.outcome, i.row["campaign_id"]) for i in items]


def test_a_batch_writes_what_storing_one_after_the_other_writes(tmp_path: Path) -> None:
    one_by_one, batched = _database(tmp_path, "one.db"), _database(tmp_path, "batch.db")
    alone, together = _items(), _items()
    with transaction(one_by_one, "alone", write=True) as conn:
        for item in alone:
            store_one(conn, item, MIN_MEMBERS)
    with transaction(batched, "together", write=True) as conn:
        store_batch(conn, together, MIN_MEMBERS)
    assert _dump(batched) == _dump(one_by_one)
    assert _found(together) == _found(alone)
    rows = _dump(batched)["campaigns"]
    # c1: 3 seeded, 7 stored, c2 merged into it (3)
    assert [(r[0], r[3]) for r in rows] == [("c1", 3 + 7 + 3), ("c3", 3 + 2)]
    assert [i.bad for i in together if i.row["campaign_id"] == "c3"] == [True, True]
    for engine in (one_by_one, batched):
        engine.dispose()
