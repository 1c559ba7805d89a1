"""The mail flow at a glance, from the message journal (table ``messages``): messages per hour
by action, the most frequent symbols, the most targeted recipients and the top sending domains.

Hourly counts are grouped in SQL over the ``received_at`` index; the top lists read the newest
``sample`` messages of the window (50,000 by default) and count in Python, so the page stays
fast however busy the gateway is (the page says when it sampled).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.exc import SQLAlchemyError

from mailward.errors import StoreError
from mailward.store import _schema as s
from mailward.store._engine import build_engine

ACTIONS = ("deliver", "tag", "disarm", "quarantine", "hold", "reject", "tempfail")
_M = s.messages


@dataclass(frozen=True, slots=True)
class FlowStats:
    since: float
    hours: list[float]  # the start of each hour, oldest first
    by_action: dict[str, list[int]]  # action -> count per hour
    total: int
    sampled: int  # messages the top lists were counted from
    top_symbols: list[tuple[str, int]] = field(default_factory=list)
    top_recipients: list[tuple[str, int]] = field(default_factory=list)
    top_sender_domains: list[tuple[str, int]] = field(default_factory=list)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower() or "(null sender)"


class MailStats:
    """Aggregates of the message journal at a store URL."""

    def __init__(self, url: str) -> None:
        self._engine = build_engine(url)

    def close(self) -> None:
        self._engine.dispose()

    def flow(self, now: float, hours: int = 24, top: int = 10, sample: int = 50_000) -> FlowStats:
        start = (int(now) // 3600 - hours + 1) * 3600.0
        bucket = cast(func.floor((_M.c.received_at - start) / 3600), Integer).label("h")
        hourly = (
            select(bucket, _M.c.action, func.count())
            .where(_M.c.received_at >= start)
            .group_by(bucket, _M.c.action)
        )
        recent = (
            select(_M.c.findings, _M.c.rcpt_tos, _M.c.mail_from)
            .where(_M.c.received_at >= start)
            .order_by(_M.c.received_at.desc())
            .limit(sample)
        )
        try:
            with self._engine.connect() as conn, conn.begin():
                counts = list(conn.execute(hourly))
                rows = list(conn.execute(recent))
        except SQLAlchemyError as exc:
            raise StoreError(f"store failed to count the mail flow: {exc}") from exc
        by_action = {a: [0] * hours for a in ACTIONS}
        total = 0
        for h, action, n in counts:
            if 0 <= h < hours:
                by_action.setdefault(action, [0] * hours)[h] += n
                total += n
        symbols: Counter[str] = Counter()
        recipients: Counter[str] = Counter()
        domains: Counter[str] = Counter()
        for findings, rcpts, sender in rows:
            symbols.update({str(f.get("symbol", "?")) for f in findings or ()})
            recipients.update(str(r).lower() for r in rcpts or ())
            domains[_domain(sender)] += 1
        return FlowStats(
            since=start, hours=[start + 3600.0 * i for i in range(hours)],
            by_action={a: v for a, v in by_action.items() if any(v) or a in ACTIONS[:4]},
            total=total, sampled=len(rows), top_symbols=symbols.most_common(top),
            top_recipients=recipients.most_common(top),
            top_sender_domains=domains.most_common(top),
        )
