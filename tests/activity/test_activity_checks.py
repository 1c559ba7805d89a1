"""Each ACT_ symbol: a case that raises it and cases that do not."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from activity_helpers import DAY, PHISH, T0, MonitorFactory, colleagues, send, symbols

ALICE = "alice@example.com"


def _learned(monitor, account: str = ALICE, ip: str = "10.1.2.3") -> None:
    """Four days of ordinary mail: past learning, a baseline of a few messages an hour."""
    for day in range(4, 0, -1):
        for n in range(3):
            send(monitor, account, colleagues(2, n * 2), T0 - day * DAY + n * 600, ip=ip)


# -- ACT_SEND_BURST ---------------------------------------------------------------------------

def test_send_burst_hit_new_account_40_messages_in_two_minutes(make_monitor: MonitorFactory):
    monitor = make_monitor()
    changes = []
    for i in range(40):
        changes += send(monitor, ALICE, colleagues(1, i), T0 + i * 3)
    assert "ACT_SEND_BURST" in symbols(monitor, ALICE)
    opened = [c for c in changes if c.created]
    assert len(opened) == 1
    evidence = opened[0].alert.evidence[0]
    assert evidence["symbol"] == "ACT_SEND_BURST"
    assert evidence["evidence"]["messages"] == 20
    assert evidence["evidence"]["baseline_peak_hour"] == 0
    assert len(evidence["evidence"]["message_ids"]) == 20


def test_send_burst_miss_below_the_minimum(make_monitor: MonitorFactory):
    monitor = make_monitor()
    for i in range(19):
        send(monitor, ALICE, colleagues(1, i), T0 + i * 3)
    assert symbols(monitor, ALICE) == set()


def test_send_burst_miss_within_the_accounts_habits(make_monitor: MonitorFactory):
    monitor = make_monitor()
    for i in range(10):  # a busy hour yesterday: 10 messages
        send(monitor, ALICE, colleagues(1, i), T0 - DAY + i * 60)
    for i in range(25):  # 25 in ten minutes today: not more than 3 x 10
        send(monitor, ALICE, colleagues(1, i), T0 + i * 20)
    assert "ACT_SEND_BURST" not in symbols(monitor, ALICE)


# -- ACT_MASS_NEW_RECIPIENTS ------------------------------------------------------------------

def test_mass_new_recipients_hit(make_monitor: MonitorFactory):
    monitor = make_monitor()
    _learned(monitor)
    send(monitor, ALICE, colleagues(25, 100), T0)
    assert symbols(monitor, ALICE) == {"ACT_MASS_NEW_RECIPIENTS"}
    alert = monitor.alerts.current("account", ALICE)
    assert alert is not None and alert.evidence[0]["evidence"]["new_recipients"] == 25


def test_mass_new_recipients_miss_known_recipients(make_monitor: MonitorFactory):
    monitor = make_monitor()
    _learned(monitor)
    send(monitor, ALICE, colleagues(25, 100), T0 - 2 * DAY)  # wrote to them (while learning)
    send(monitor, ALICE, colleagues(25, 100), T0)
    assert symbols(monitor, ALICE) == set()


def test_mass_new_recipients_miss_while_learning(make_monitor: MonitorFactory):
    monitor = make_monitor()
    send(monitor, ALICE, colleagues(25, 100), T0)
    assert symbols(monitor, ALICE) == set()


# -- ACT_INTERNAL_PHISH -----------------------------------------------------------------------

def test_internal_phish_hit(make_monitor: MonitorFactory):
    monitor = make_monitor()
    changes = send(monitor, ALICE, colleagues(1), T0, PHISH, auth=False)
    assert symbols(monitor, ALICE) == {"ACT_INTERNAL_PHISH"}
    evidence = changes[0].alert.evidence[0]["evidence"]
    assert evidence["action"] == "quarantine" and evidence["symbols"] == ["URL_CRED_FORM"]
    assert evidence["message_ids"] and evidence["message_id"].startswith("<m")


def test_internal_phish_miss_clean_message(make_monitor: MonitorFactory):
    monitor = make_monitor()
    send(monitor, ALICE, colleagues(1), T0)
    assert symbols(monitor, ALICE) == set()


def test_internal_phish_miss_mail_from_outside(make_monitor: MonitorFactory):
    monitor = make_monitor()
    from mailward.model import Envelope

    outside = Envelope(mail_from="x@partner.example.net", rcpt_tos=("a@example.com",),
                       peer_ip="198.51.100.1", received_at=T0)
    assert monitor.observe_message("ext-1", outside, PHISH) == []
    assert symbols(monitor, "x@partner.example.net") == set()


# -- ACT_NEW_LOGIN_NETWORK --------------------------------------------------------------------

def test_new_login_network_hit_after_learning(make_monitor: MonitorFactory):
    monitor = make_monitor()
    _learned(monitor)
    monitor.observe_auth(ALICE, "203.0.113.7", True, now=T0)
    assert symbols(monitor, ALICE) == {"ACT_NEW_LOGIN_NETWORK"}
    assert monitor.alerts.list(state="all") == []  # weight 3 alone stays below alert_at


def test_new_login_network_hit_many_networks_at_once(make_monitor: MonitorFactory):
    monitor = make_monitor()
    for n, ip in enumerate(("192.0.2.1", "198.51.100.1", "203.0.113.1")):
        monitor.observe_auth(ALICE, ip, True, now=T0 + n * 60)
    assert symbols(monitor, ALICE) == {"ACT_NEW_LOGIN_NETWORK"}


def test_new_login_network_miss_known_network(make_monitor: MonitorFactory):
    monitor = make_monitor()
    _learned(monitor)
    monitor.observe_auth(ALICE, "10.1.2.99", True, now=T0)  # same /24
    assert symbols(monitor, ALICE) == set()


def test_new_login_network_miss_while_learning(make_monitor: MonitorFactory):
    monitor = make_monitor()
    monitor.observe_auth(ALICE, "10.1.2.3", True, now=T0)
    monitor.observe_auth(ALICE, "203.0.113.7", True, now=T0 + 3600)
    assert symbols(monitor, ALICE) == set()


# -- ACT_AUTH_FAILURES and ACT_AUTH_SPRAY -----------------------------------------------------

def test_auth_failures_hit(make_monitor: MonitorFactory):
    monitor = make_monitor()
    for n in range(10):
        monitor.observe_auth("bob", "198.51.100.9", False, now=T0 + n)
    assert symbols(monitor, "bob") == {"ACT_AUTH_FAILURES"}
    alert = monitor.alerts.current("account", "bob")
    assert alert is not None
    assert alert.evidence[0]["evidence"]["networks"] == ["198.51.100.0/24"]


def test_auth_failures_miss_below_threshold_or_spread_out(make_monitor: MonitorFactory):
    monitor = make_monitor()
    for n in range(9):
        monitor.observe_auth("bob", "198.51.100.9", False, now=T0 + n)
    for n in range(10):  # one an hour: not a burst
        monitor.observe_auth("carol", "198.51.100.9", False, now=T0 + n * 3600)
    assert symbols(monitor, "bob") == set() and symbols(monitor, "carol") == set()


def test_auth_spray_hit(make_monitor: MonitorFactory):
    monitor = make_monitor()
    for n in range(5):
        monitor.observe_auth(f"user{n}", "203.0.113.50", False, now=T0 + n)
    assert symbols(monitor, "203.0.113.0/24", kind="auth") == {"ACT_AUTH_SPRAY"}
    alert = monitor.alerts.current("auth", "203.0.113.0/24")
    assert alert is not None and alert.evidence[0]["evidence"]["logins"] == 5


def test_auth_spray_miss_logins_from_different_networks(make_monitor: MonitorFactory):
    monitor = make_monitor()
    for n in range(5):
        monitor.observe_auth(f"user{n}", f"198.51.{100 + n}.1", False, now=T0 + n)
    assert monitor.alerts.list(state="all") == []


def test_a_tempfail_is_not_counted_so_the_later_verdict_is(make_monitor: MonitorFactory):
    from activity_helpers import envelope

    from mailward.model import Action, Verdict

    monitor = make_monitor()
    env = envelope(ALICE, colleagues(1), T0)
    assert monitor.observe_message("s1", env, Verdict(Action.TEMPFAIL, 0.0, "busy")) == []
    assert monitor.base.hourly(ALICE) == []
    assert monitor.observe_message("s1", env, PHISH) != []  # the re-scan's verdict counts
