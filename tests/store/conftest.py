"""Fixtures for the store tests: every test using ``store`` or ``store_url`` runs on SQLite, and
on PostgreSQL too when MAILWARD_TEST_PG_URL is set (e.g. postgresql+psycopg://u:p@127.0.0.1/db);
the PostgreSQL run is skipped when its driver is not installed. The PostgreSQL database is
emptied before each test (dbreset.py), so point it at a throw-away database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dbreset import BACKENDS, empty_postgres, pg_url

from mailward.model import Finding
from mailward.store import MessageRecord, Store, open_store

RecordFactory = Callable[..., MessageRecord]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'mailward.db'}"
    url = pg_url()
    empty_postgres(url)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def make_record() -> RecordFactory:
    """A factory of MessageRecords; keyword arguments override the defaults."""

    def make(id: str = "msg-1", **changes: object) -> MessageRecord:
        fields: dict[str, object] = {
            "id": id,
            "received_at": 1_700_000_000.5,
            "mail_from": "sender@example.net",
            "rcpt_tos": ("alice@example.org", "bob@example.org"),
            "peer_ip": "192.0.2.10",
            "message_id": f"<{id}@example.net>",
            "subject": "Invoice overdue \u2014 act now",
            "size": 2048,
            "sha256": "ab" * 32,
            "score": 12.5,
            "action": "quarantine",
            "reason": "score 12.5 >= 10",
            "findings": (
                Finding(
                    symbol="URL_CRED_FORM",
                    explanation="A link leads to a page asking for a password.",
                    evidence=("http://login.example.test/",),
                    factor=0.5,
                    score=6.25,
                    detector="urls",
                ),
            ),
        }
        fields.update(changes)
        return MessageRecord(**fields)  # type: ignore[arg-type]

    return make
