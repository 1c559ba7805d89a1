"""The activity monitor: what the gateway calls for each message from inside and each AUTH.

:class:`ActivityMonitor` counts the event in the baselines, runs the checks, turns findings
into alerts (deduplicated), tells the team (webhook, syslog) and, when ``[activity.responses]``
asks for it, acts: ``hold_outbound`` (the account's further outbound mail goes to the
quarantine with action ``hold`` until the alert is closed) and ``raise_lockdown``. Every
automatic action is written to the audit log (actor ``mailward-activity``) and undone when the
alert is closed: held mail is released through the quarantine's release path, and the lockdown
goes back to the level the alert found (unless someone changed it since).

The monitor is advisory for delivery: callers catch its failures and mail goes on.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update

from mailward.activity import _schema as t
from mailward.activity.alerts import Alert, AlertChange, AlertStore
from mailward.activity.baseline import Baselines, MessageObservation, network_of
from mailward.activity.checks import (
    ActivityFinding,
    auth_failure_checks,
    login_network,
    message_checks,
)
from mailward.activity.notify import Notifier
from mailward.config.settings import Settings
from mailward.model import Action, Envelope, Verdict
from mailward.response.lockdown import Level, LockdownState
from mailward.store import Store

log = logging.getLogger(__name__)
ACTOR = "mailward-activity"
_LEVELS = list(Level)
#: Symbols showing the account itself sending badly: only these start hold_outbound (failed
#: logins against an account are an attack on it, and must not let an outsider stop its mail).
SENDING_SYMBOLS = frozenset({"ACT_SEND_BURST", "ACT_MASS_NEW_RECIPIENTS", "ACT_INTERNAL_PHISH"})


def account_of(envelope: Envelope) -> str | None:
    """The watched account of a message: its AUTH login, else the envelope sender of mail
    from an internal network; None for mail from outside (and for bounces)."""
    if envelope.authenticated_as:
        return envelope.authenticated_as.strip().lower()[:320]
    if envelope.internal and envelope.mail_from:
        return envelope.mail_from.strip().lower()[:320]
    return None


def _safe(text: str, limit: int = 200) -> str:
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)[:limit]


class ActivityMonitor:
    """Baselines, checks, alerts and responses for one gateway (or one CLI command)."""

    def __init__(
        self, settings: Settings, store: Store, lockdown: LockdownState | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.cfg = settings.activity
        self.store = store
        self.lockdown = lockdown
        self.base = Baselines(settings.store_url)
        self.alerts = AlertStore(self.base, self.cfg)
        self.notifier = notifier or Notifier(self.cfg.webhook, self.cfg.syslog)

    def close(self) -> None:
        self.base.close()

    def network(self, ip: str) -> str:
        return network_of(ip, self.cfg.ipv4_prefix, self.cfg.ipv6_prefix)

    # -- observing -------------------------------------------------------------------------

    def observe_message(
        self, entry_id: str, envelope: Envelope, verdict: Verdict, message_id: str = "",
        now: float | None = None,
    ) -> list[AlertChange]:
        """Count one scanned message from inside and check the account (once per spool id)."""
        account = account_of(envelope)
        if account is None or verdict.action is Action.TEMPFAIL:  # not judged yet: later
            return []
        accepted = self.settings.organisation.accepted_domains
        external = sum(1 for r in envelope.rcpt_tos
                       if r.rpartition("@")[2].lower().rstrip(".") not in accepted)
        obs = MessageObservation(
            ref=entry_id, account=account,
            at=envelope.received_at or (time.time() if now is None else now),
            network=self.network(envelope.peer_ip), recipients=envelope.rcpt_tos,
            external=external, flagged=verdict.action.severity > 0,
            detail={"action": str(verdict.action), "score": round(verdict.score, 2),
                    "message_id": _safe(message_id),
                    "symbols": sorted({f.symbol for f in verdict.findings if f.score})[:20]},
        )
        facts = self.base.record_message(obs)
        if facts is None:
            return []
        return self.raise_alerts(message_checks(self.cfg, self.base, obs, facts), now)

    def observe_auth(self, login: str, ip: str, ok: bool,
                     now: float | None = None) -> list[AlertChange]:
        """Count one AUTH attempt (success or failure) and check for guessing and spraying."""
        at = time.time() if now is None else now
        login = _safe(login.strip().lower(), 320) or "?"
        net = self.network(ip)
        facts = self.base.record_auth(f"auth-{uuid.uuid4().hex}", login, net, at, ok)
        if ok:
            found = [] if facts is None else login_network(self.cfg, self.base, login, net, at,
                                                             facts)
        else:
            found = auth_failure_checks(self.cfg, self.base, login, net, at)
        return self.raise_alerts(found, now)

    def raise_alerts(
        self, found: list[ActivityFinding], now: float | None = None
    ) -> list[AlertChange]:
        """File findings (from these checks or others: campaigns) as alerts; respond, tell."""
        changes = self.alerts.add_findings(found, now)
        for change in changes:
            alert = change.alert
            if change.created or change.escalated:
                what = "opened" if change.created else "escalated"
                log.warning("alert %d %s: %s", alert.id, what, alert.summary)
                alert = self.respond(alert)
                self.notifier.send(f"alert.{what}", alert)
        return changes

    # -- responses -------------------------------------------------------------------------

    def respond(self, alert: Alert) -> Alert:
        """The automatic responses configured for the alert's kind that it has not had yet
        (when it opens, and again when it escalates); each one audited."""
        wanted = getattr(self.cfg.responses, alert.kind, None)
        if wanted is None or alert.state == "closed":
            return alert
        done: dict[str, Any] = dict(alert.responses)
        why = f"alert {alert.id}: {alert.summary}"
        if (wanted.hold_outbound and alert.kind == "account" and "hold_outbound" not in done
                and SENDING_SYMBOLS & set(alert.symbols)):
            done["hold_outbound"] = {"since": time.time(), "account": alert.subject}
            self.store.audit(ACTOR, "activity hold_outbound", f"alert-{alert.id}", (), why)
        if wanted.raise_lockdown and self.lockdown is not None and "raise_lockdown" not in done:
            before = self.lockdown.level()
            target = Level(wanted.raise_lockdown)
            if _LEVELS.index(target) > _LEVELS.index(before):
                self.lockdown.set(target, actor=ACTOR, reason=why, store=self.store)
                done["raise_lockdown"] = {"from": str(before), "to": str(target)}
        if done != alert.responses:
            self.alerts.set_responses(alert.id, done)
            return self.alerts.get(alert.id) or alert
        return alert

    def holding(self, envelope: Envelope) -> Alert | None:
        """The alert whose hold_outbound holds this message's account, if any."""
        account = account_of(envelope)
        if account is None:
            return None
        alert = self.alerts.current("account", account)
        if alert is None or "hold_outbound" not in alert.responses:
            return None
        return alert

    def record_hold(self, entry_id: str, alert: Alert, rcpts: tuple[str, ...],
                    action: str = "deliver") -> None:
        """Remember (and audit) that ``alert`` held this message in the quarantine instead of
        ``action`` (deliver, tag or disarm)."""
        with self.base.tx("record a hold", write=True) as conn:
            exists = conn.execute(select(t.holds.c.message_id)
                                  .where(t.holds.c.message_id == entry_id)).first()
            if exists is None:
                conn.execute(t.holds.insert().values(
                    message_id=entry_id, alert_id=alert.id, account=alert.subject,
                    action=action, held_at=time.time(), released_at=None))
        self.store.audit(ACTOR, "activity hold", entry_id, rcpts,
                         f"hold_outbound of alert {alert.id} ({alert.subject})")

    def held_messages(self, alert_id: int, *, released: bool = False) -> list[str]:
        return list(self._holds(alert_id, released=released))

    def _holds(self, alert_id: int, *, released: bool = False) -> dict[str, str]:
        """Held (or released) message ids of the alert -> the action the hold replaced."""
        h = t.holds
        query = select(h.c.message_id, h.c.action).where(h.c.alert_id == alert_id)
        query = query.where(h.c.released_at.is_not(None) if released
                            else h.c.released_at.is_(None))
        with self.base.tx("read holds") as conn:
            return {str(m): str(a) for m, a in conn.execute(query.order_by(h.c.held_at))}

    # -- analyst actions -------------------------------------------------------------------

    def acknowledge(self, alert_id: int, actor: str, note: str) -> Alert:
        alert = self.alerts.transition(alert_id, "acknowledged", actor, note)
        self.store.audit(actor, "alert acknowledged", f"alert-{alert_id}", (), note)
        self.notifier.send("alert.acknowledged", alert)
        return alert

    def close_alert(
        self, alert_id: int, actor: str, note: str, release: Callable[[str, str, bool], None],
    ) -> tuple[Alert, list[str]]:
        """Close the alert and undo its responses: ``release(message_id, reason, rescan)``
        each held message (``rescan`` for one the engine had judged disarm: it is scanned
        again and disarmed, never delivered whole), restore the lockdown level. Returns the
        alert and the released ids."""
        alert = self.alerts.transition(alert_id, "closed", actor, note)
        self.store.audit(actor, "alert closed", f"alert-{alert_id}", (), note)
        released = []
        reason = f"alert {alert_id} closed by {actor}: {note}"
        for message_id, action in self._holds(alert_id).items():
            release(message_id, reason, action == "disarm")
            with self.base.tx("record a release", write=True) as conn:
                conn.execute(update(t.holds).where(t.holds.c.message_id == message_id)
                             .values(released_at=time.time()))
            released.append(message_id)
        self._restore_lockdown(alert, actor, reason)
        self.notifier.send("alert.closed", alert)
        return alert, released

    def _restore_lockdown(self, alert: Alert, actor: str, reason: str) -> None:
        raised = alert.responses.get("raise_lockdown")
        if not raised or self.lockdown is None:
            return
        if self.lockdown.level() != Level(raised["to"]):
            log.info("alert %d: lockdown changed since it was raised; left as it is", alert.id)
            return
        self.lockdown.set(Level(raised["from"]), actor=actor, reason=reason, store=self.store)

    def purge(self, now: float) -> None:
        """Drop raw events and findings past retention, and counters past the baseline."""
        self.base.purge(now - self.cfg.event_retention_hours * 3600,
                        now - self.cfg.baseline_days * 86400)
