"""Fixtures of the activity tests: every test using ``make_monitor`` runs on SQLite, and on
PostgreSQL too when MAILWARD_TEST_PG_URL is set (its tables are dropped before each test)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))

from activity_helpers import MonitorFactory, RecordingNotifier

from mailward.activity import ActivityMonitor
from mailward.activity._campaign_schema import CAMPAIGN_METADATA
from mailward.activity._schema import ACTIVITY_METADATA
from mailward.config.settings import Settings
from mailward.response.journal import JOURNAL_METADATA
from mailward.response.lockdown import LOCKDOWN_METADATA, LockdownState
from mailward.store import open_store
from mailward.store._schema import METADATA

PG_ENV = "MAILWARD_TEST_PG_URL"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'mailward.db'}"
    url = os.environ[PG_ENV]
    pytest.importorskip(make_url(url).get_driver_name())
    engine = create_engine(url)
    try:
        for metadata in (ACTIVITY_METADATA, METADATA, LOCKDOWN_METADATA, CAMPAIGN_METADATA,
                         JOURNAL_METADATA):
            metadata.drop_all(engine)
    finally:
        engine.dispose()
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
