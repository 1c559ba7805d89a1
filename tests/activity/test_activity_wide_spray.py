"""ACT_AUTH_SPRAY_WIDE: password spraying spread over many client networks, a few tries each,
so that no one network reaches spray_logins_min (hit, and the ordinary mistyped passwords that
must not raise it)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from activity_helpers import T0, MonitorFactory, symbols

WIDE = {"spray_wide_logins_min": 12, "spray_wide_networks_min": 6}


def test_wide_spray_hit_many_logins_from_many_networks(make_monitor: MonitorFactory) -> None:
    monitor = make_monitor(**WIDE)
    changes = []
    for n in range(12):  # 12 logins, two per network, six networks: each below the per-network 5
        changes += monitor.observe_auth(f"user{n}", f"203.0.{n // 2}.9", False, now=T0 + n * 60)
    assert symbols(monitor, "*", kind="auth") == {"ACT_AUTH_SPRAY_WIDE"}
    assert not any(c.alert.subject.endswith("/24") for c in changes)
    alert = monitor.alerts.current("auth", "*")
    assert alert is not None and alert.severity != "low"
    evidence = alert.evidence[0]["evidence"]
    assert evidence["logins"] == 12 and evidence["networks"] == 6
    assert evidence["sample_networks"][0] == "203.0.0.0/24"
    assert sorted(evidence["sample_logins"]) == sorted(f"user{n}" for n in range(12))


def test_wide_spray_miss_a_few_users_mistyping_from_their_own_networks(
        make_monitor: MonitorFactory) -> None:
    monitor = make_monitor()  # defaults: 20 logins from 10 networks
    for n in range(8):  # eight people, one failure each from their own network
        monitor.observe_auth(f"user{n}", f"198.51.{n}.7", False, now=T0 + n * 30)
    assert monitor.alerts.list(state="all") == []
    assert symbols(monitor, "*", kind="auth") == set()


def test_wide_spray_miss_when_the_failed_logins_then_succeed(
        make_monitor: MonitorFactory) -> None:
    monitor = make_monitor(**WIDE)
    for n in range(20):  # twenty mistyped passwords, each followed by the right one
        monitor.observe_auth(f"user{n}", f"198.51.{n}.7", False, now=T0 + n * 30)
        monitor.observe_auth(f"user{n}", f"198.51.{n}.7", True, now=T0 + n * 30 + 5)
    assert symbols(monitor, "*", kind="auth") == set()


def test_wide_spray_miss_outside_the_window(make_monitor: MonitorFactory) -> None:
    monitor = make_monitor(spray_wide_window_seconds=600.0, **WIDE)
    for n in range(12):  # one failure every ten minutes: never 12 in a window
        monitor.observe_auth(f"user{n}", f"203.0.{n}.9", False, now=T0 + n * 600)
    assert symbols(monitor, "*", kind="auth") == set()
