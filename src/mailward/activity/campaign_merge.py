"""Merging campaigns in the store: a new message resembles members of two or more clusters
(the LSH returns candidates from several, or shared indicators link them), so they are one.

:func:`merge_clusters` runs inside the transaction that stores the message
(:meth:`mailward.activity.campaigns.Campaigns.observe`): the id of the oldest cluster is kept,
every member of the others is moved to it, each merged cluster (a campaign or not yet one) gets
a ``campaign_merges`` row (so its old id still leads to the campaign, also for another node
that still knows the old id: :func:`resolve_merged`), and the kept campaign's row is
recomputed: members, first and last seen, indicators (the kept one's first), and the state: bad
when any part was bad. The outcome lists the members of the parts that were not bad, which the
caller claws back when the merged campaign is bad (through the same path as any bad campaign).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from mailward.activity import _campaign_schema as t

MAX_INDICATORS = 200


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    into: str
    merged: tuple[str, ...]  # every cluster merged into ``into``
    campaigns: tuple[str, ...]  # of them, those that were campaigns (had a row)
    bad: bool  # the merged campaign is bad (some part was)
    bad_parts: tuple[str, ...]  # the parts that were bad already
    good_members: tuple[str, ...]  # spool ids of the parts that were not bad


def first_seen(conn: Connection, clusters: Sequence[str]) -> dict[str, float]:
    """When each cluster's first stored member arrived (clusters without rows left out)."""
    m = t.messages
    rows = conn.execute(select(m.c.campaign_id, func.min(m.c.at))
                        .where(m.c.campaign_id.in_(list(clusters)))
                        .group_by(m.c.campaign_id)).all()
    found = {str(cid): float(at) for cid, at in rows}
    c = t.campaigns  # a campaign whose oldest members were purged still knows its first seen
    for cid, at in conn.execute(select(c.c.id, c.c.first_seen)
                                .where(c.c.id.in_(list(clusters)))).all():
        found[str(cid)] = min(found.get(str(cid), float(at)), float(at))
    return found


def oldest(conn: Connection, clusters: Sequence[str]) -> str:
    """The cluster (of ``clusters``) seen first; the first given when none is stored."""
    seen = first_seen(conn, clusters)
    return min(clusters, key=lambda cid: (seen.get(cid, float("inf")), clusters.index(cid)))


def resolve_merged(conn: Connection, clusters: Sequence[str]) -> dict[str, str]:
    """Of ``clusters``, those merged into another (by any node): merged id -> the id kept
    (one indexed lookup; the table keeps each row pointing at the final id)."""
    g = t.merges
    rows = conn.execute(select(g.c.id, g.c.merged_into).where(g.c.id.in_(list(clusters))))
    return {str(cid): str(into) for cid, into in rows if cid != into}


def merge_clusters(conn: Connection, into: str, merged: Sequence[str], now: float,
                   min_members: int) -> MergeOutcome:
    """Move the clusters ``merged`` into ``into`` (see the module docstring)."""
    m, c, g = t.messages, t.campaigns, t.merges
    ids = [into, *merged]
    rows = {str(r.id): r for r in conn.execute(select(c).where(c.c.id.in_(ids)))}
    bad_parts = tuple(cid for cid in ids if cid in rows and rows[cid].state == "bad")
    good_members: tuple[str, ...] = ()
    if bad_parts:
        good = [cid for cid in ids if cid not in bad_parts]
        good_members = tuple(conn.execute(select(m.c.spool_id)
                                          .where(m.c.campaign_id.in_(good))).scalars())
    sizes: dict[str, int] = dict(conn.execute(
        select(m.c.campaign_id, func.count()).where(m.c.campaign_id.in_(list(merged)))
        .group_by(m.c.campaign_id)).all())
    conn.execute(update(m).where(m.c.campaign_id.in_(list(merged))).values(campaign_id=into))
    conn.execute(update(g).where(g.c.merged_into.in_(list(merged))).values(merged_into=into))
    campaigns = tuple(cid for cid in merged if cid in rows)
    known = set(conn.execute(select(g.c.id).where(g.c.id.in_(list(merged)))).scalars())
    for cid in merged:  # every merged cluster, so a node that still knows it finds the kept id
        if cid not in known:
            size = int(rows[cid].members) if cid in rows else int(sizes.get(cid, 0))
            conn.execute(insert(g).values(id=cid, merged_into=into, at=now, members=size))
    conn.execute(delete(c).where(c.c.id.in_(list(merged))))
    members, first, last = conn.execute(
        select(func.count(), func.min(m.c.at), func.max(m.c.at)).where(m.c.campaign_id == into)
    ).one()
    if into in rows or int(members) >= min_members:
        values = _combined(conn, [rows[cid] for cid in ids if cid in rows], into)
        values.update(members=int(members), first_seen=min(
            [float(first), *(rows[cid].first_seen for cid in ids if cid in rows)]),
            last_seen=max([float(last), *(rows[cid].last_seen for cid in ids if cid in rows)]))
        if into in rows:
            conn.execute(update(c).where(c.c.id == into).values(**values))
        else:
            conn.execute(insert(c).values(id=into, **values))
    return MergeOutcome(into, tuple(merged), campaigns, bool(bad_parts), bad_parts,
                        good_members)


def _combined(conn: Connection, parts: list[Any], into: str) -> dict[str, Any]:
    """State, bad_at, bad_why and indicators of the merged campaign from its parts' rows (the
    members' indicators when no part was a campaign yet)."""
    bad = [p for p in parts if p.state == "bad"]
    indicators: list[str] = []
    for part in parts:
        indicators += list(part.indicators)
    if not parts:
        m = t.messages
        shared: Counter[str] = Counter()
        for ind in conn.execute(select(m.c.indicators).where(m.c.campaign_id == into)).scalars():
            shared.update(set(ind.get("strong", ())) | set(ind.get("infra", ())))
        indicators = [k for k, _ in shared.most_common(MAX_INDICATORS)]
    return {
        "state": "bad" if bad else "active",
        "bad_at": min(p.bad_at or 0.0 for p in bad) if bad else None,
        "bad_why": "; ".join(str(p.bad_why) for p in bad)[:1000],
        "indicators": list(dict.fromkeys(indicators))[:MAX_INDICATORS],
    }
