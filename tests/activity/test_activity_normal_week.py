"""False alerts: two weeks of ordinary internal mail (a seeded generator with working hours,
weekdays, per-person volume, teams, replies and logins from office, home and phones) fed to the
activity checks directly (not over SMTP, to stay fast). The first week is the baselines'
learning time; the second is the measured normal week: it must raise no alert."""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from activity_helpers import RecordingNotifier
from week_generator import DAY, normal_mail

from mailward.activity import ActivityMonitor
from mailward.config.settings import Settings
from mailward.model import Action, Envelope, Verdict
from mailward.store import open_store

START = 1_798_416_000.0  # Monday 2026-12-28 00:00 UTC


def test_a_normal_week_raises_no_alert(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": str(tmp_path), "store": {"url": "sqlite://"}})
    store = open_store(settings.store_url)
    monitor = ActivityMonitor(settings, store, None, RecordingNotifier())
    clean = Verdict(Action.DELIVER, 0.5, "below tag_at")
    tagged = Verdict(Action.TAG, 5.5, "reaches tag_at")
    counts: collections.Counter[str] = collections.Counter()
    accounts: set[str] = set()
    began = time.perf_counter()
    try:
        for n, event in enumerate(normal_mail(seed=7, people=80, days=14, start=START)):
            kind, login, ip = str(event[0]), str(event[1]), str(event[2])
            week = "week2" if float(event[-1]) >= START + 7 * DAY else "week1"  # type: ignore[arg-type]
            if kind == "auth":
                monitor.observe_auth(login, ip, bool(event[3]), now=float(event[4]))  # type: ignore[arg-type]
                continue
            counts[f"{week} messages"] += 1
            accounts.add(login)
            envelope = Envelope(mail_from=login, rcpt_tos=tuple(event[3]),  # type: ignore[arg-type]
                                peer_ip=ip, received_at=float(event[4]),  # type: ignore[arg-type]
                                authenticated_as=login)
            verdict = tagged if n % 400 == 0 else clean  # the odd false tag
            monitor.observe_message(f"w{n}", envelope, verdict)
        elapsed = time.perf_counter() - began
        alerts = monitor.alerts.list(state="all")
        week2 = [a for a in alerts if a.created_at >= START + 7 * DAY]
        findings = collections.Counter(
            f["symbol"] for a in alerts for f in a.evidence)
        messages = counts["week2 messages"]
        rate = len(week2) / len(accounts)
        total = messages + counts["week1 messages"]
        print(f"\nnormal week: {messages} messages from {len(accounts)} accounts "
              f"(+{counts['week1 messages']} in the learning week), {elapsed:.1f} s for all "
              f"events ({1000 * elapsed / total:.2f} ms per message, in-memory SQLite)")
        print(f"false alerts in the normal week: {len(week2)} "
              f"(rate {rate:.4f} per account-week, {1000 * len(week2) / messages:.3f} per "
              f"1000 messages); in the learning week: {len(alerts) - len(week2)}")
        print(f"findings below the alert threshold: {dict(_all_findings(monitor))}")
        assert messages > 3000
        assert week2 == [], [a.summary for a in week2]
        assert not findings
    finally:
        monitor.close()
        store.close()


def _all_findings(monitor: ActivityMonitor) -> collections.Counter[str]:
    from sqlalchemy import select

    from mailward.activity._schema import findings

    with monitor.base.tx("test") as conn:
        return collections.Counter(conn.execute(select(findings.c.symbol)).scalars())
