"""Alerts: deduplicated per (kind, subject), severity, states, responses and their undoing,
surviving a restart; on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from activity_helpers import PHISH, T0, MonitorFactory, colleagues, envelope, send

from mailward.activity import ActivityMonitor
from mailward.config.settings import Settings
from mailward.errors import StoreError
from mailward.response.lockdown import Level

ALICE = "alice@example.com"


def _burst(monitor: ActivityMonitor, account: str = ALICE, start: float = T0) -> None:
    for i in range(25):
        send(monitor, account, colleagues(1, i), start + i * 3)


def test_one_open_alert_per_account_updated_with_new_evidence(make_monitor: MonitorFactory):
    monitor = make_monitor()
    _burst(monitor)
    send(monitor, ALICE, colleagues(1, 90), T0 + 80, PHISH)
    alerts = monitor.alerts.list(state="all")
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.symbols == ("ACT_INTERNAL_PHISH", "ACT_SEND_BURST")
    assert alert.severity == "high" and alert.score == 14.0  # 6 + 8
    assert len(alert.evidence) > 2  # every burst message after the 20th adds evidence
    events = [e for e, _ in monitor.notifier.sent]  # type: ignore[attr-defined]
    assert events == ["alert.opened", "alert.escalated"]  # not one per message


def test_findings_below_alert_at_do_not_alert_until_they_add_up(make_monitor: MonitorFactory):
    monitor = make_monitor(alert_at=9.0)
    _burst(monitor)  # 6 alone
    assert monitor.alerts.list(state="all") == []
    send(monitor, ALICE, colleagues(1, 90), T0 + 80, PHISH)  # + 8
    assert [a.symbols for a in monitor.alerts.list()] == [("ACT_INTERNAL_PHISH", "ACT_SEND_BURST")]


def test_states_and_a_new_alert_after_close(make_monitor: MonitorFactory):
    monitor = make_monitor()
    send(monitor, ALICE, colleagues(1), T0, PHISH)
    alert = monitor.alerts.list()[0]
    acked = monitor.acknowledge(alert.id, "soc", "looking")
    assert (acked.state, acked.acted_by, acked.note) == ("acknowledged", "soc", "looking")
    send(monitor, ALICE, colleagues(1), T0 + 10, PHISH)  # still the same incident
    assert len(monitor.alerts.list(state="all")) == 1
    closed, released = monitor.close_alert(alert.id, "soc", "password reset", lambda m, r, s: None)
    assert closed.state == "closed" and released == []
    with pytest.raises(StoreError):
        monitor.close_alert(alert.id, "soc", "again", lambda m, r, s: None)
    send(monitor, ALICE, colleagues(1), T0 + 20, PHISH)
    assert [a.state for a in monitor.alerts.list(state="all")] == ["open", "closed"]
    audit = [a.action for a in monitor.store.audit_log(f"alert-{alert.id}")]
    assert audit == ["alert closed", "alert acknowledged"]


def test_alerts_and_baselines_survive_a_restart(make_monitor: MonitorFactory):
    first = make_monitor()
    send(first, ALICE, colleagues(3), T0 - 3600)
    send(first, ALICE, colleagues(1), T0, PHISH)
    again = make_monitor()
    assert [a.symbols for a in again.alerts.list()] == [("ACT_INTERNAL_PHISH",)]
    hours = again.base.hourly(ALICE)
    assert [h["messages"] for h in hours] == [1, 1]
    assert hours[0]["recipients"] == 3 and hours[1]["flagged"] == 1
    # the same spool id observed again (a re-scan) is not counted twice
    assert again.observe_message("m-dup", envelope(ALICE, colleagues(1), T0 + 1), PHISH) != []
    assert again.observe_message("m-dup", envelope(ALICE, colleagues(1), T0 + 1), PHISH) == []


def test_hold_outbound_is_off_by_default(make_monitor: MonitorFactory):
    monitor = make_monitor()
    send(monitor, ALICE, colleagues(1), T0, PHISH)
    assert monitor.alerts.list()[0].responses == {}
    assert monitor.holding(envelope(ALICE, colleagues(1), T0 + 1)) is None


def test_hold_outbound_holds_then_close_releases_and_audits(make_monitor: MonitorFactory):
    monitor = make_monitor(responses={"account": {"hold_outbound": True}})
    send(monitor, ALICE, colleagues(1), T0, PHISH)
    alert = monitor.holding(envelope(ALICE, colleagues(1), T0 + 1))
    assert alert is not None and alert.responses["hold_outbound"]["account"] == ALICE
    assert monitor.holding(envelope("bob@example.com", colleagues(1), T0 + 1)) is None
    for n in range(3):
        monitor.record_hold(f"held-{n}", alert, colleagues(1))
    monitor.record_hold("held-0", alert, colleagues(1))  # a retry records it once
    assert monitor.held_messages(alert.id) == ["held-0", "held-1", "held-2"]
    released: list[tuple[str, str]] = []
    monitor.record_hold("held-3", alert, colleagues(1), "disarm")
    rescans: list[bool] = []
    _, ids = monitor.close_alert(alert.id, "soc", "false alarm",
                                 lambda m, r, s: (released.append((m, r)), rescans.append(s)))
    assert ids == ["held-0", "held-1", "held-2", "held-3"]
    assert released[0] == ("held-0", "alert 1 closed by soc: false alarm")
    assert rescans == [False, False, False, True]  # a disarmed message is scanned again
    assert monitor.held_messages(alert.id) == []
    assert monitor.held_messages(alert.id, released=True) == ids
    assert monitor.holding(envelope(ALICE, colleagues(1), T0 + 2)) is None
    assert [a.action for a in monitor.store.audit_log("held-1")] == ["activity hold"]
    assert [a.action for a in monitor.store.audit_log(f"alert-{alert.id}")] == [
        "alert closed", "activity hold_outbound"]


def test_raise_lockdown_and_restore_on_close(make_monitor: MonitorFactory):
    monitor = make_monitor(lockdown=True, responses={"account": {"raise_lockdown": "heightened"}})
    assert monitor.lockdown is not None
    send(monitor, ALICE, colleagues(1), T0, PHISH)
    alert = monitor.alerts.list()[0]
    assert monitor.lockdown.level() is Level.HEIGHTENED
    assert alert.responses["raise_lockdown"] == {"from": "normal", "to": "heightened"}
    monitor.close_alert(alert.id, "soc", "contained", lambda m, r, s: None)
    assert monitor.lockdown.level() is Level.NORMAL
    trail = [a.actor for a in monitor.store.audit_log("lockdown")]
    assert trail == ["soc", "mailward-activity"]


def test_raise_lockdown_never_lowers_and_close_keeps_a_later_change(make_monitor: MonitorFactory):
    monitor = make_monitor(lockdown=True, responses={"account": {"raise_lockdown": "heightened"}})
    state = monitor.lockdown
    assert state is not None
    send(monitor, ALICE, colleagues(1), T0, PHISH)
    state.set(Level.HOLD_ALL, actor="soc", reason="bigger incident", store=monitor.store)
    send(monitor, "bob@example.com", colleagues(1), T0, PHISH)  # would raise: already higher
    bob = monitor.alerts.current("account", "bob@example.com")
    assert bob is not None and "raise_lockdown" not in bob.responses
    alice = monitor.alerts.current("account", ALICE)
    assert alice is not None
    monitor.close_alert(alice.id, "soc", "done", lambda m, r, s: None)
    assert state.level() is Level.HOLD_ALL  # someone changed it since: left alone


def test_a_campaign_alert_fits_the_same_record(make_monitor: MonitorFactory):
    """The campaign clustering to come files kind="campaign" findings on a campaign id."""
    from mailward.activity import ActivityFinding

    monitor = make_monitor(responses={"campaign": {"hold_outbound": True}})
    finding = ActivityFinding("ACT_SEND_BURST", "campaign", "cmp-42", 6.0,
                              "30 near-identical messages", T0, {"members": ["a", "b"]})
    [change] = monitor.raise_alerts([finding], now=T0)
    alert = change.alert
    assert (alert.kind, alert.subject, alert.state) == ("campaign", "cmp-42", "open")
    assert alert.responses == {}  # hold_outbound holds accounts only
    assert monitor.alerts.current("campaign", "cmp-42") == alert
    assert monitor.alerts.list(kind="campaign") == [alert]


def test_purge_drops_old_events_and_counters_but_keeps_alerts(make_monitor: MonitorFactory):
    from activity_helpers import DAY

    monitor = make_monitor()
    send(monitor, ALICE, colleagues(1), T0 - 20 * DAY, PHISH)  # past baseline_days (14)
    send(monitor, ALICE, colleagues(1), T0 - 3 * DAY)
    monitor.purge(T0)
    assert [h["messages"] for h in monitor.base.hourly(ALICE)] == [1]
    assert monitor.base.window(ALICE, 0.0) == []  # raw events past 48 hours are gone
    assert len(monitor.alerts.list(state="all")) == 1


def test_the_gateway_builds_a_monitor_unless_activity_is_off(tmp_path: Path):
    from mailward.runtime.gateway import Gateway

    for enabled in (True, False):
        settings = Settings.model_validate({
            "data_dir": str(tmp_path / str(enabled)), "dns": {"enabled": False},
            "activity": {"enabled": enabled}})
        gw = Gateway.build(settings, history=False, offline=True)
        try:
            assert (gw.activity is not None) is enabled
            assert gw.processor.activity is gw.activity
        finally:
            gw.close()


def test_failed_logins_alone_never_hold_the_accounts_mail(make_monitor: MonitorFactory):
    """Guessing alice's password is an attack on her, not by her: no hold until the account
    itself sends badly (then the escalated alert holds)."""
    monitor = make_monitor(responses={"account": {"hold_outbound": True}})
    for n in range(10):
        monitor.observe_auth(ALICE, "198.51.100.9", False, now=T0 + n)
    alert = monitor.alerts.current("account", ALICE)
    assert alert is not None and alert.symbols == ("ACT_AUTH_FAILURES",)
    assert alert.responses == {}
    assert monitor.holding(envelope(ALICE, colleagues(1), T0 + 20)) is None
    send(monitor, ALICE, colleagues(1), T0 + 30, PHISH)
    held = monitor.holding(envelope(ALICE, colleagues(1), T0 + 40))
    assert held is not None and held.id == alert.id
    assert [a.action for a in monitor.store.audit_log(f"alert-{alert.id}")] == [
        "activity hold_outbound"]
