"""Writing a clustered message's campaign rows (see :mod:`mailward.activity.campaigns`): its
``campaign_messages`` row, and the new or updated ``campaigns`` row of its cluster.

:func:`store_batch` writes the messages that several threads clustered at the same time, in
one transaction (:mod:`mailward.store._group`). A run of consecutive messages of one campaign
that already exists (the common case under load: a campaign's members arriving together)
is written with one read of the campaign row, one multi-row insert and one update, instead of
one of each per message; the rows written are those that storing them one after the other
(:func:`store_one`) writes. Every other message is stored one after the other.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from mailward.activity import _campaign_schema as t
from mailward.activity.campaign_index import Indicators
from mailward.activity.campaign_merge import (
    MAX_INDICATORS,
    MergeOutcome,
    merge_clusters,
    resolve_merged,
)

log = logging.getLogger(__name__)

# Built once; each message only binds its values.
_INSERT_MESSAGE = t.messages.insert()
_SELECT_CAMPAIGN = select(t.campaigns).where(t.campaigns.c.id == bindparam("cid"))
_COUNT_MEMBERS = update(t.campaigns).where(t.campaigns.c.id == bindparam("cid")).values(
    members=t.campaigns.c.members + bindparam("added"), last_seen=bindparam("new_last"),
    first_seen=bindparam("new_first"),
    indicators=bindparam("new_indicators", type_=t.campaigns.c.indicators.type))
#: The same when the campaign's indicator list is unchanged (most members): no JSON to write.
_COUNT_MEMBERS_SAME = update(t.campaigns).where(t.campaigns.c.id == bindparam("cid")).values(
    members=t.campaigns.c.members + bindparam("added"), last_seen=bindparam("new_last"),
    first_seen=bindparam("new_first"))


@dataclass(slots=True)
class Storing:
    """One message's campaign rows to write, and what writing them found."""

    row: dict[str, Any]
    ind: Indicators
    at: float
    merged: tuple[str, ...]
    is_campaign: bool = False
    outcome: MergeOutcome | None = None
    bad: bool = False  # its campaign was found bad elsewhere


def store_batch(conn: Connection, items: list[Storing], min_members: int) -> None:
    """Store ``items`` in this order, in the transaction of ``conn``."""
    start = 0
    while start < len(items):
        end = start + 1
        cluster = items[start].row["campaign_id"]
        if not items[start].merged:
            while (end < len(items) and not items[end].merged
                   and items[end].row["campaign_id"] == cluster):
                end += 1
        run = items[start:end]
        if len(run) == 1 or not _store_members(conn, run):
            for item in run:
                store_one(conn, item, min_members)
        start = end


def _store_members(conn: Connection, run: list[Storing]) -> bool:
    """Store messages of one cluster (none merging) when it is a campaign already: as
    :func:`store_one` one after the other would. False (nothing written) when it is not."""
    cluster = run[0].row["campaign_id"]
    current = conn.execute(_SELECT_CAMPAIGN, {"cid": cluster}).first()
    if current is None:
        return False
    conn.execute(_INSERT_MESSAGE, [item.row for item in run])
    known = list(current.indicators)
    first, last = current.first_seen, current.last_seen
    for item in run:
        known = list(dict.fromkeys([*known, *item.ind.all]))[:MAX_INDICATORS]
        first, last = min(item.at, first), max(item.at, last)
        item.is_campaign, item.outcome, item.bad = True, None, current.state == "bad"
    _count(conn, cluster, len(run), first, last, known, list(current.indicators))
    return True


def _count(conn: Connection, cluster: str, added: int, first: float, last: float,
           known: list[str], before: list[str]) -> None:
    values = {"cid": cluster, "added": added, "new_last": last, "new_first": first}
    if known == before:
        conn.execute(_COUNT_MEMBERS_SAME, values)
    else:
        conn.execute(_COUNT_MEMBERS, {**values, "new_indicators": known})


def store_one(conn: Connection, item: Storing, min_members: int) -> None:
    """Insert the message (merging ``item.merged`` into its cluster first); create or update
    its campaign (a cluster of ``min_members``)."""
    m, c = t.messages, t.campaigns
    row, ind, at, merged = item.row, item.ind, item.at, item.merged
    item.is_campaign, item.outcome, item.bad = False, None, False
    cluster = row["campaign_id"]
    if merged:
        item.outcome = merge_clusters(conn, cluster, merged, at, min_members)
    current = conn.execute(_SELECT_CAMPAIGN, {"cid": cluster}).first()
    if current is None and not merged and row["joined_by"] != "new":
        # another node may have merged the cluster this node knows: its kept id
        into = resolve_merged(conn, [cluster]).get(cluster)
        if into is not None:
            cluster = row["campaign_id"] = into
            current = conn.execute(_SELECT_CAMPAIGN, {"cid": cluster}).first()
    conn.execute(_INSERT_MESSAGE, row)
    if current is not None:
        item.bad = current.state == "bad"  # found bad elsewhere (a node, the CLI)
        known = list(dict.fromkeys([*current.indicators, *ind.all]))[:MAX_INDICATORS]
        _count(conn, cluster, 1, min(at, current.first_seen), max(at, current.last_seen),
               known, list(current.indicators))
        item.is_campaign = True
        return
    rows = conn.execute(select(m.c.at, m.c.indicators)
                        .where(m.c.campaign_id == cluster)).all()
    if len(rows) < min_members:
        return
    shared: Counter[str] = Counter()
    for r in rows:
        shared.update(set(r.indicators.get("strong", ())) |
                      set(r.indicators.get("infra", ())))
    conn.execute(c.insert().values(
        id=cluster, first_seen=min(r.at for r in rows),
        last_seen=max(r.at for r in rows), members=len(rows), state="active",
        bad_at=None, bad_why="",
        indicators=[k for k, _ in shared.most_common(MAX_INDICATORS)]))
    log.info("campaign %s: %d messages clustered", cluster, len(rows))
    item.is_campaign = True
