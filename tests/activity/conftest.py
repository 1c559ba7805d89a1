"""Fixtures of the activity tests: every test using ``make_monitor`` runs on SQLite, and on
PostgreSQL too when MAILWARD_TEST_PG_URL is set (the database is emptied before each test)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "store"))

from activity_helpers import MonitorFactory, RecordingNotifier
from dbreset import BACKENDS, empty_postgres, pg_url

from mailward.activity import ActivityMonitor
from mailward.config.settings import Settings
from mailward.response.lockdown import LockdownState
from mailward.store import open_store


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'mailward.db'}"
    url = pg_url()
    empty_postgres(url)
    return url


@pytest.fixture
def make_settings(store_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**activity: Any) -> Settings:
        return Settings.model_validate({
            "data_dir": str(tmp_path / "data"), "store": {"url": store_url},
            "organisation": {"accepted_domains": ["example.com"]}, "activity": activity,
        })

    return make


@pytest.fixture
def make_monitor(make_settings: Callable[..., Settings]) -> Iterator[MonitorFactory]:
    opened: list[Any] = []

    def make(*, lockdown: bool = False, **activity: Any) -> ActivityMonitor:
        settings = make_settings(**activity)
        store = open_store(settings.store_url)
        state = LockdownState(settings.store_url, cache_seconds=0) if lockdown else None
        monitor = ActivityMonitor(settings, store, state, RecordingNotifier())
        opened.extend([monitor, store, *([state] if state else [])])
        return monitor

    yield make
    for thing in reversed(opened):
        thing.close()
