"""The overview: messages per hour by action, top symbols, recipients and sending domains."""

from __future__ import annotations

import time

from starlette.testclient import TestClient
from web_helpers import login, record

from mailward.store import Store


def test_overview_counts_the_last_24_hours(client: TestClient, store: Store) -> None:
    now = time.time()
    for n, (action, age) in enumerate([("deliver", 60), ("deliver", 120), ("quarantine", 3700),
                                       ("reject", 7300), ("deliver", 90_000)]):
        rec = record(n, at=now - age, to=("Alice@example.com",) if n else ("bob@example.com",))
        store.record_message(
            rec.__class__(**{**{f: getattr(rec, f) for f in rec.__slots__}, "action": action})
        )
    login(client, "viewer")
    data = client.get("/api/overview").json()
    assert data["total"] == 4 and len(data["hours"]) == 24
    assert data["by_action"]["deliver"][-1] == 2 and sum(data["by_action"]["deliver"]) == 2
    assert sum(data["by_action"]["quarantine"]) == 1 and sum(data["by_action"]["reject"]) == 1
    assert data["top_symbols"] == [["URL_TEXT_MISMATCH", 4]]
    assert data["top_recipients"][0] == ["alice@example.com", 3]
    assert data["top_sender_domains"] == [["evil.example.net", 4]]
    page = client.get("/overview").text
    assert '<script src="/static/chart.umd.min.js"></script>' in page
    assert 'id="chart-hourly"' in page and "URL_TEXT_MISMATCH" in page
    assert client.get("/static/chart.umd.min.js").status_code == 200
    assert client.get("/", follow_redirects=False).headers["location"] == "/overview"
