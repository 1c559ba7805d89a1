"""Fixtures for the console tests: settings on a temporary data dir, a store with quarantined
messages, users of each role, and a Starlette TestClient on the app (with a clock to turn)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from web_helpers import PASSWORD, ROLES, Clock, Quarantine, phish_message, record

from mailward.config.settings import Settings
from mailward.store import Store, open_store
from mailward.web import build_app
from mailward.web._accounts import Accounts


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.model_validate({
        "data_dir": str(tmp_path / "data"), "dns": {"enabled": False},
        "console": {"listen_port": 8025, "page_size": 20},
    })


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = open_store(settings.store_url)
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(settings: Settings) -> None:
    accounts = Accounts(settings.store_url)
    try:
        for role in ROLES:
            accounts.add_user(role, PASSWORD, role)
    finally:
        accounts.close()


@pytest.fixture
def quarantine(store: Store) -> Quarantine:
    def put(n: int = 0, raw: bytes | None = None, **kw: object) -> str:
        rec = record(n, **kw)  # type: ignore[arg-type]
        store.quarantine(rec, raw if raw is not None else phish_message(n=n, to=rec.rcpt_tos))
        return rec.id

    return put


@pytest.fixture
def delivered() -> list[str]:
    return []


@pytest.fixture
def client(
    settings: Settings, store: Store, clock: Clock, users: None, delivered: list[str]
) -> Iterator[TestClient]:
    async def deliver(spool_id: str) -> bool:
        delivered.append(spool_id)
        return True

    app = build_app(settings, store=store, deliver=deliver, clock=clock)
    with TestClient(app, follow_redirects=False) as c:
        yield c
    app.state.close()


