"""The paged reads the console uses: ``AlertStore.page`` and ``Campaigns.page``,
``summaries``, ``member_ids`` (SQLite, and PostgreSQL when MAILWARD_TEST_PG_URL is set)."""

from __future__ import annotations

from collections.abc import Callable

from activity_helpers import MonitorFactory

from mailward.activity import ActivityFinding
from mailward.activity.campaign_reads import summarize
from mailward.activity.campaigns import Campaigns
from mailward.config.settings import LimitSettings, Settings
from mailward.mime import parse_message
from mailward.model import Action, Envelope, Verdict
from mailward.store import open_store

T0 = 1_800_000_000.0


def test_alert_pages_walk_newest_first_with_filters(make_monitor: MonitorFactory) -> None:
    monitor = make_monitor()
    for n in range(5):
        weight = 13.0 if n % 2 else 6.0
        kind = "auth" if n == 4 else "account"
        monitor.raise_alerts([ActivityFinding("ACT_SEND_BURST", kind, f"s{n}", weight, "x",
                                              T0 + n)], T0 + n)
    ids = [a.id for a in monitor.alerts.list("all")]
    first, older = monitor.alerts.page(limit=2)
    assert [a.id for a in first] == ids[:2] and older == ids[1]
    second, older = monitor.alerts.page(before=older, limit=2)
    third, last = monitor.alerts.page(before=older, limit=2)
    assert [a.id for a in second + third] == ids[2:] and last is None
    assert [a.subject for a in monitor.alerts.page(severity="high")[0]] == ["s3", "s1"]
    assert [a.subject for a in monitor.alerts.page(kind="auth")[0]] == ["s4"]
    monitor.acknowledge(ids[0], "ann", "seen")
    assert [a.subject for a in monitor.alerts.page(state="acknowledged")[0]] == ["s4"]
    assert monitor.alerts.page(state="closed") == ([], None)


def _lure(n: int, text: str) -> bytes:
    return (f"From: Billing <billing@vendor{n}.test>\r\nTo: p{n}@example.com\r\n"
            f"Subject: notice {n}\r\nMessage-ID: <l{n}@vendor{n}.test>\r\n\r\n"
            f"Dear customer {n}, {text} Reference {1000 + n}, thank you.\r\n").encode()


TEXTS = [
    "your invoice is overdue and your account will be suspended unless you pay it today",
    "we saw a sign-in to your mailbox from a new device; confirm your identity within the hour",
]


def test_campaign_pages_summaries_and_member_ids(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    store = open_store(settings.store_url)
    found = Campaigns(settings, store, now=T0)
    try:
        for wave, text in enumerate(TEXTS):
            for n in range(wave * 10, wave * 10 + 3):
                env = Envelope(mail_from=f"b@mx{n}.test", rcpt_tos=(f"p{n}@example.com",),
                               peer_ip="198.51.100.7", received_at=T0 + n)
                action = Action.QUARANTINE if n == 1 else Action.DELIVER
                found.observe(f"s{n}", env, parse_message(_lure(n, text), LimitSettings()),
                              Verdict(action, 1.0, "x"))
        newest, after = found.page(limit=1)
        older, last = found.page(after=after, limit=1)
        assert after is not None and last is None
        assert [c.members for c in newest + older] == [3, 3]
        assert found.member_ids(newest[0].id) == ["s10", "s11", "s12"]
        assert found.member_ids("c-none") == []
        sums = found.summaries([older[0].id])
        assert sums[older[0].id]["verdicts"] == {"deliver": 2, "quarantine": 1}
        assert sums[older[0].id]["recipients"] == ["p0@example.com", "p1@example.com",
                                                   "p2@example.com"]
        assert found.summaries([]) == {}
        assert summarize([]) == {"recipients": [], "senders": [], "verdicts": {}}
        assert found.page(state="bad") == ([], None)
    finally:
        found.close()
        store.close()
