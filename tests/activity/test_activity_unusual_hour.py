"""ACT_UNUSUAL_HOUR: a message at an hour of day the account, with enough history, hardly ever
sends at (hit, misses, the time zone of the evidence)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from activity_helpers import DAY, T0, MonitorFactory, colleagues, send, symbols

from mailward.activity import ActivityMonitor
from mailward.activity._schema import findings
from mailward.config.settings import Settings

ALICE = "alice@example.com"
MIDNIGHT = T0 - T0 % DAY  # T0 is 08:00 UTC
SETTINGS = {"unusual_hour_min_messages": 40}


def _office_hours(monitor: ActivityMonitor, days: int = 6) -> None:
    """One message an hour from 09:00 to 16:59 UTC on each of the last ``days`` days."""
    for day in range(days, 0, -1):
        for hour in range(9, 17):
            send(monitor, ALICE, colleagues(1, hour), MIDNIGHT - day * DAY + hour * 3600 + 120)


def _evidence(monitor: ActivityMonitor) -> dict[str, object]:
    from sqlalchemy import select
    with monitor.base.tx("test") as conn:
        (row,) = conn.execute(select(findings.c.evidence).where(
            findings.c.symbol == "ACT_UNUSUAL_HOUR")).scalars().all()
    return dict(row)


def test_unusual_hour_hit_at_three_in_the_morning(make_monitor: MonitorFactory) -> None:
    monitor = make_monitor(**SETTINGS)
    _office_hours(monitor)
    changes = send(monitor, ALICE, colleagues(1), MIDNIGHT + 3 * 3600 + 600)
    assert symbols(monitor, ALICE) == {"ACT_UNUSUAL_HOUR"}
    assert changes == []  # weight 3: below alert_at alone
    evidence = _evidence(monitor)
    assert evidence["hour"] == 3 and evidence["timezone"] == "UTC"
    assert evidence["usual_hours"] == list(range(9, 17))
    assert evidence["messages_near_hour"] == 0 and evidence["baseline_messages"] == 48


def test_unusual_hour_adds_up_with_a_new_network(make_monitor: MonitorFactory) -> None:
    monitor = make_monitor(**SETTINGS)
    _office_hours(monitor)
    changes = send(monitor, ALICE, colleagues(1), MIDNIGHT + 3 * 3600, ip="203.0.113.9")
    assert {c.alert.kind for c in changes if c.created} == {"account"}
    assert set(changes[0].alert.symbols) == {"ACT_UNUSUAL_HOUR", "ACT_NEW_LOGIN_NETWORK"}


@pytest.mark.parametrize("hour", [10, 17, 8])
def test_unusual_hour_miss_in_or_next_to_the_usual_hours(make_monitor: MonitorFactory,
                                                          hour: int) -> None:
    monitor = make_monitor(**SETTINGS)
    _office_hours(monitor)
    send(monitor, ALICE, colleagues(1), MIDNIGHT + hour * 3600 + 600)
    assert symbols(monitor, ALICE) == set()


def test_unusual_hour_miss_without_enough_history(make_monitor: MonitorFactory) -> None:
    monitor = make_monitor(unusual_hour_min_messages=49)
    _office_hours(monitor)
    send(monitor, ALICE, colleagues(1), MIDNIGHT + 3 * 3600)
    assert symbols(monitor, ALICE) == set()


def test_unusual_hour_counts_hours_in_the_configured_time_zone(
        make_monitor: MonitorFactory) -> None:
    monitor = make_monitor(timezone="Asia/Tokyo", **SETTINGS)  # UTC+9
    _office_hours(monitor)
    send(monitor, ALICE, colleagues(1), MIDNIGHT + 3 * 3600)
    evidence = _evidence(monitor)
    assert evidence["hour"] == 12 and evidence["timezone"] == "Asia/Tokyo"
    assert evidence["usual_hours"] == [0, 1, 18, 19, 20, 21, 22, 23]


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Settings.model_validate({"activity": {"timezone": "Mars/Olympus"}})
