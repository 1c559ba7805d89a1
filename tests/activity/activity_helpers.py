"""Envelopes and verdicts for the activity tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mailward.activity import ActivityMonitor, AlertChange, Notifier
from mailward.config.settings import Settings
from mailward.model import Action, Envelope, Finding, Verdict

MonitorFactory = Callable[..., ActivityMonitor]


class RecordingNotifier(Notifier):
    """Keeps the events instead of sending them."""

    def __init__(self) -> None:
        super().__init__(Settings().activity.webhook, Settings().activity.syslog)
        self.sent: list[tuple[str, int]] = []

    def send(self, event: str, alert: Any) -> None:
        self.sent.append((event, alert.id))


T0 = 1_800_000_000.0  # a Tuesday, 15:20 UTC
DAY = 86400.0
CLEAN = Verdict(Action.DELIVER, 0.0, "score 0 is below tag_at 5")
PHISH = Verdict(
    Action.QUARANTINE, 14.0, "score 14 reaches quarantine_at 10",
    (Finding("URL_CRED_FORM", "A link leads to a password form.", ("http://x.test/",),
             score=8.0),),
)


def colleagues(n: int, start: int = 0) -> tuple[str, ...]:
    return tuple(f"user{i}@example.com" for i in range(start, start + n))


def envelope(account: str, rcpts: Sequence[str], at: float, ip: str = "10.1.2.3",
             *, auth: bool = True) -> Envelope:
    return Envelope(mail_from=account, rcpt_tos=tuple(rcpts), peer_ip=ip, received_at=at,
                    authenticated_as=account if auth else None, internal=not auth)


_counter = [0]


def send(monitor: ActivityMonitor, account: str, rcpts: Sequence[str], at: float,
         verdict: Verdict = CLEAN, ip: str = "10.1.2.3", auth: bool = True) -> list[AlertChange]:
    _counter[0] += 1
    return monitor.observe_message(f"m{_counter[0]}", envelope(account, rcpts, at, ip, auth=auth),
                                   verdict, f"<m{_counter[0]}@example.com>")


def symbols(monitor: ActivityMonitor, subject: str, kind: str = "account") -> set[str]:
    """Every ACT_ symbol recorded on the subject so far."""
    from sqlalchemy import select

    from mailward.activity._schema import findings

    with monitor.base.tx("test") as conn:
        rows = conn.execute(select(findings.c.symbol).where(
            findings.c.kind == kind, findings.c.subject == subject)).scalars()
        return set(rows)
