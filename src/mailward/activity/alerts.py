"""Alerts: one record per incident, deduplicated by (kind, subject) while it is not closed.

Kinds: ``account`` (an account behaving worryingly: subject is the login or internal sender
address), ``auth`` (failed AUTH across accounts: subject is the client network), ``campaign``
(messages clustered into one campaign: subject is the campaign id).

Findings on one subject add up over ``[activity] incident_seconds`` (each symbol counts once,
at its weight); at ``alert_at`` an alert opens. While it is open or acknowledged, new findings
are added to its evidence and may raise its severity, so one incident is one alert. States:
open -> acknowledged -> closed (closing an open alert directly is allowed); who acted and when
is kept on the alert and in the audit log.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Select, select, update

from mailward.activity import _schema as t
from mailward.activity.baseline import Baselines
from mailward.activity.checks import ActivityFinding
from mailward.config.activity import ActivitySettings
from mailward.errors import StoreError

KINDS: Final = ("account", "auth", "campaign")
STATES: Final = ("open", "acknowledged", "closed")
SEVERITIES: Final = ("low", "medium", "high")
#: Findings kept in one alert's evidence (the newest).
MAX_EVIDENCE = 200


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    kind: str
    subject: str
    severity: str  # low | medium | high
    score: float
    state: str  # open | acknowledged | closed
    symbols: tuple[str, ...]
    summary: str
    evidence: tuple[dict[str, Any], ...]  # the findings, oldest first
    responses: dict[str, Any]  # what automatic responses did (and how to undo them)
    created_at: float
    updated_at: float
    acted_by: str
    acted_at: float
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "subject": self.subject,
            "severity": self.severity, "score": self.score, "state": self.state,
            "symbols": list(self.symbols), "summary": self.summary,
            "evidence": list(self.evidence), "responses": self.responses,
            "created_at": self.created_at, "updated_at": self.updated_at,
            "acted_by": self.acted_by, "acted_at": self.acted_at, "note": self.note,
        }


#: A page of alerts, newest first, and the ``before`` of the next page (None on the last).
AlertPage = tuple[list[Alert], int | None]


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert after new findings: ``created`` when it opened now, ``escalated`` when a new
    symbol or a higher severity came in (both are worth telling the team)."""

    alert: Alert
    created: bool
    escalated: bool


def severity(cfg: ActivitySettings, score: float) -> str:
    if score >= cfg.severity_high_at:
        return "high"
    return "medium" if score >= cfg.severity_medium_at else "low"


_RANK = {"low": 0, "medium": 1, "high": 2}


def _alert(row: Any) -> Alert:
    return Alert(
        id=int(row.id), kind=row.kind, subject=row.subject, severity=row.severity,
        score=float(row.score), state=row.state, symbols=tuple(row.symbols),
        summary=row.summary, evidence=tuple(row.evidence), responses=dict(row.responses),
        created_at=row.created_at, updated_at=row.updated_at, acted_by=row.acted_by,
        acted_at=row.acted_at, note=row.note,
    )


class AlertStore:
    """Alerts and the findings behind them, in the activity tables."""

    def __init__(self, base: Baselines, cfg: ActivitySettings) -> None:
        self.base = base
        self.cfg = cfg

    def add_findings(
        self, found: Sequence[ActivityFinding], now: float | None = None
    ) -> list[AlertChange]:
        """Record findings; open or update the alerts they make. The incident window is
        anchored on the findings' own times; ``now`` (default: the clock) stamps the alerts."""
        if not found:
            return []
        now = time.time() if now is None else now
        latest = max(f.at for f in found)
        changes = []
        subjects = sorted({(f.kind, f.subject) for f in found})
        with self.base.tx("record activity findings", write=True) as conn:
            for f in found:
                conn.execute(t.findings.insert().values(
                    kind=f.kind, subject=f.subject, symbol=f.symbol, at=f.at, weight=f.weight,
                    explanation=f.explanation, evidence=f.evidence))
            for kind, subject in subjects:
                mine = [f for f in found if (f.kind, f.subject) == (kind, subject)]
                change = self._incident(conn, kind, subject, mine, latest, now)
                if change is not None:
                    changes.append(change)
        return changes

    def _incident(self, conn: Connection, kind: str, subject: str,
                  new: list[ActivityFinding], latest: float, now: float) -> AlertChange | None:
        f = t.findings
        rows = conn.execute(select(f.c.symbol, f.c.weight).where(
            f.c.kind == kind, f.c.subject == subject,
            f.c.at >= latest - self.cfg.incident_seconds, f.c.at <= latest)).all()
        weights: dict[str, float] = {}
        for symbol, weight in rows:
            weights[symbol] = max(weights.get(symbol, 0.0), float(weight))
        score = sum(weights.values())
        current = self._current(conn, kind, subject)
        evidence = [x.to_json() for x in new]
        if current is None:
            if score < self.cfg.alert_at:
                return None
            return AlertChange(self._open(conn, kind, subject, weights, evidence, now), True, True)
        symbols = tuple(sorted(set(current.symbols) | set(weights)))
        score = max(score, current.score)
        level = severity(self.cfg, score)
        if _RANK[level] < _RANK[current.severity]:
            level = current.severity
        escalated = symbols != current.symbols or level != current.severity
        merged = [*current.evidence, *evidence][-MAX_EVIDENCE:]
        conn.execute(update(t.alerts).where(t.alerts.c.id == current.id).values(
            symbols=list(symbols), score=score, severity=level, evidence=merged,
            summary=_summary(kind, subject, symbols), updated_at=now))
        return AlertChange(self._get(conn, current.id), False, escalated)

    def _open(self, conn: Connection, kind: str, subject: str, weights: dict[str, float],
              evidence: list[dict[str, Any]], now: float) -> Alert:
        symbols = tuple(sorted(weights))
        score = sum(weights.values())
        result = conn.execute(t.alerts.insert().values(
            kind=kind, subject=subject, severity=severity(self.cfg, score), score=score,
            state="open", symbols=list(symbols), summary=_summary(kind, subject, symbols),
            evidence=evidence, responses={}, created_at=now, updated_at=now, acted_by="",
            acted_at=0.0, note=""))
        key = result.inserted_primary_key
        assert key is not None
        return self._get(conn, int(key[0]))

    def _current(self, conn: Connection, kind: str, subject: str) -> Alert | None:
        a = t.alerts
        row = conn.execute(select(a).where(
            a.c.kind == kind, a.c.subject == subject, a.c.state != "closed"
        ).order_by(a.c.id.desc())).first()
        return None if row is None else _alert(row)

    def _get(self, conn: Connection, alert_id: int) -> Alert:
        row = conn.execute(select(t.alerts).where(t.alerts.c.id == alert_id)).first()
        if row is None:
            raise StoreError(f"no alert with id {alert_id}")
        return _alert(row)

    # -- reading and acting ----------------------------------------------------------------

    def get(self, alert_id: int) -> Alert | None:
        with self.base.tx("read an alert") as conn:
            row = conn.execute(select(t.alerts).where(t.alerts.c.id == alert_id)).first()
        return None if row is None else _alert(row)

    def current(self, kind: str, subject: str) -> Alert | None:
        """The alert not yet closed for (kind, subject), if any."""
        with self.base.tx("read an alert") as conn:
            return self._current(conn, kind, subject)

    def list(self, state: str | None = "active", kind: str | None = None,
             limit: int = 100) -> list[Alert]:
        """Alerts, newest first; ``state`` "active" means open or acknowledged, "all" or None
        any state."""
        a = t.alerts
        query = _filtered(state, kind)
        with self.base.tx("list alerts") as conn:
            rows = conn.execute(query.order_by(a.c.id.desc()).limit(limit)).all()
        return [_alert(r) for r in rows]

    def page(self, state: str | None = None, kind: str | None = None,
             severity: str | None = None, before: int | None = None,
             limit: int = 50) -> AlertPage:
        """One page of alerts, newest first (by id), with ids below ``before`` when given;
        ``state`` as in :meth:`list`. Returns the alerts and the ``before`` of the next
        (older) page, None on the last."""
        a = t.alerts
        query = _filtered(state, kind)
        if severity is not None:
            query = query.where(a.c.severity == severity)
        if before is not None:
            query = query.where(a.c.id < before)
        with self.base.tx("list alerts") as conn:
            rows = conn.execute(query.order_by(a.c.id.desc()).limit(limit + 1)).all()
        alerts = [_alert(r) for r in rows[:limit]]
        return alerts, alerts[-1].id if len(rows) > limit else None

    def transition(self, alert_id: int, state: str, actor: str, note: str) -> Alert:
        """Acknowledge or close an alert (StoreError when it is unknown or closed)."""
        if state not in ("acknowledged", "closed"):
            raise ValueError(f"cannot move an alert to {state!r}")
        with self.base.tx("change an alert", write=True) as conn:
            current = self._get(conn, alert_id)
            if current.state == "closed":
                raise StoreError(f"alert {alert_id} is closed already")
            conn.execute(update(t.alerts).where(t.alerts.c.id == alert_id).values(
                state=state, acted_by=actor, acted_at=time.time(), note=note,
                updated_at=time.time()))
            return self._get(conn, alert_id)

    def set_responses(self, alert_id: int, responses: dict[str, Any]) -> None:
        with self.base.tx("record an alert's responses", write=True) as conn:
            conn.execute(update(t.alerts).where(t.alerts.c.id == alert_id)
                         .values(responses=responses))


def _summary(kind: str, subject: str, symbols: Sequence[str]) -> str:
    return f"{kind} {subject}: {', '.join(symbols)}"


def _filtered(state: str | None, kind: str | None) -> Select[Any]:
    """Alerts in ``state`` ("active": open or acknowledged; "all" or None: any) of ``kind``."""
    a = t.alerts
    query = select(a)
    if state == "active":
        query = query.where(a.c.state != "closed")
    elif state not in (None, "all"):
        query = query.where(a.c.state == state)
    if kind is not None:
        query = query.where(a.c.kind == kind)
    return query
