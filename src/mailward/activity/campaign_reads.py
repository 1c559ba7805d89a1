"""Reading the campaign tables (see :mod:`mailward.activity.campaigns`): a campaign, its
merges, pages of campaigns, their members and what those add up to."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from mailward.activity import _campaign_schema as t


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign row, with the clusters merged into it."""

    id: str
    first_seen: float
    last_seen: float
    members: int
    state: str
    bad_at: float | None
    bad_why: str
    indicators: tuple[str, ...]
    merged: tuple[str, ...] = ()  # clusters (campaigns or not yet) merged into this one

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "first_seen": self.first_seen, "last_seen": self.last_seen,
                "members": self.members, "state": self.state, "bad_at": self.bad_at,
                "bad_why": self.bad_why, "indicators": list(self.indicators),
                "merged": list(self.merged)}


def summarize(members: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What a campaign's members (as :meth:`Campaigns.members` gives them) add up to: its
    recipients and senders (sorted) and the count of each verdict."""
    actions = [str(m["action"]) for m in members]
    return {"recipients": sorted({str(r) for m in members for r in m["recipients"]}),
            "senders": sorted({str(m["from"] or m["mail_from"]) for m in members}),
            "verdicts": {a: actions.count(a) for a in sorted(set(actions))}}


def _campaign(row: Any, merged: tuple[str, ...] = ()) -> Campaign:
    return Campaign(row.id, row.first_seen, row.last_seen, int(row.members), row.state,
                    row.bad_at, row.bad_why, tuple(row.indicators), merged)


class CampaignReads:
    """The read side of :class:`~mailward.activity.campaigns.Campaigns` (its ``tx`` opens a
    transaction on the campaign tables)."""

    def tx(self, what: str, *, write: bool = False) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def get(self, campaign_id: str) -> Campaign | None:
        """The campaign with this id (None when there is none: see :meth:`merged_into`)."""
        g = t.merges
        with self.tx("read a campaign") as conn:
            row = conn.execute(select(t.campaigns).where(t.campaigns.c.id == campaign_id)).first()
            if row is None:
                return None
            merged = conn.execute(select(g.c.id).where(g.c.merged_into == campaign_id)
                                  .order_by(g.c.at, g.c.id)).scalars().all()
        return _campaign(row, tuple(str(m) for m in merged))

    def merged_into(self, campaign_id: str) -> str | None:
        """The campaign a merged campaign is now part of (None if it was never merged)."""
        g = t.merges
        with self.tx("read a campaign merge") as conn:
            found = conn.execute(select(g.c.merged_into).where(g.c.id == campaign_id)).scalar()
        return None if found is None else str(found)

    def recent(self, limit: int = 100, state: str | None = None) -> list[Campaign]:
        """Campaigns, most recently active first."""
        c = t.campaigns
        query = select(c)
        if state:
            query = query.where(c.c.state == state)
        with self.tx("list campaigns") as conn:
            rows = conn.execute(query.order_by(c.c.last_seen.desc()).limit(limit)).all()
        return [_campaign(r) for r in rows]

    def page(self, state: str | None = None, after: tuple[float, str] | None = None,
             limit: int = 50) -> tuple[list[Campaign], tuple[float, str] | None]:
        """One page of campaigns, most recently active first (last seen, then id), older than
        ``after`` (a last seen and id) when given; with the ``after`` of the next page, None
        on the last."""
        c = t.campaigns
        query = select(c)
        if state:
            query = query.where(c.c.state == state)
        if after is not None:
            query = query.where(or_(c.c.last_seen < after[0],
                                    and_(c.c.last_seen == after[0], c.c.id < after[1])))
        query = query.order_by(c.c.last_seen.desc(), c.c.id.desc()).limit(limit + 1)
        with self.tx("list campaigns") as conn:
            rows = conn.execute(query).all()
        found = [_campaign(r) for r in rows[:limit]]
        more = len(rows) > limit
        return found, (found[-1].last_seen, found[-1].id) if more else None

    def summaries(self, campaign_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """:func:`summarize` of each campaign's members, for a page of campaigns."""
        m = t.messages
        grouped: dict[str, list[dict[str, Any]]] = {cid: [] for cid in campaign_ids}
        if not campaign_ids:
            return {}
        query = select(m.c.campaign_id, m.c.mail_from, m.c.from_address, m.c.recipients,
                       m.c.action).where(m.c.campaign_id.in_(list(campaign_ids)))
        with self.tx("summarise campaigns") as conn:
            for r in conn.execute(query):
                grouped[r.campaign_id].append({"mail_from": r.mail_from, "from": r.from_address,
                                               "recipients": r.recipients, "action": r.action})
        return {cid: summarize(members) for cid, members in grouped.items()}

    def member_ids(self, campaign_id: str) -> list[str]:
        """The spool ids of a campaign's members (the quarantine's entry ids), oldest first."""
        m = t.messages
        with self.tx("read campaign member ids") as conn:
            return [str(x) for x in conn.execute(
                select(m.c.spool_id).where(m.c.campaign_id == campaign_id).order_by(m.c.at)
            ).scalars()]

    def members(self, campaign_id: str) -> list[dict[str, Any]]:
        """The members, oldest first: spool id, time, senders, recipients, subject, verdict."""
        m = t.messages
        cols = (m.c.spool_id, m.c.at, m.c.mail_from, m.c.from_address, m.c.recipients,
                m.c.subject, m.c.action, m.c.score, m.c.joined_by, m.c.cluster_ms)
        with self.tx("read campaign members") as conn:
            rows = conn.execute(select(*cols).where(m.c.campaign_id == campaign_id)
                                .order_by(m.c.at)).all()
        return [{"spool_id": r.spool_id, "at": r.at, "mail_from": r.mail_from,
                 "from": r.from_address, "recipients": list(r.recipients),
                 "subject": r.subject, "action": r.action, "score": round(r.score, 2),
                 "joined_by": r.joined_by, "cluster_ms": r.cluster_ms} for r in rows]

    def campaign_of(self, spool_id: str) -> str | None:
        """The campaign (a cluster of at least min_members) a message belongs to."""
        m, c = t.messages, t.campaigns
        query = select(c.c.id).join(m, m.c.campaign_id == c.c.id).where(m.c.spool_id == spool_id)
        with self.tx("find a message's campaign") as conn:
            found = conn.execute(query).scalar()
        return None if found is None else str(found)
