"""/metrics: Prometheus text from the store and the spool, for a session or the bearer token."""

from __future__ import annotations

from pydantic import SecretStr
from starlette.testclient import TestClient
from web_helpers import Quarantine, login, record

from mailward.config.settings import Settings
from mailward.model import Envelope
from mailward.spool.queue import Spool
from mailward.store import Store
from mailward.web import build_app


def test_metrics_need_a_session_and_count(
    client: TestClient, store: Store, quarantine: Quarantine, settings: Settings
) -> None:
    assert client.get("/metrics").status_code == 401
    quarantine(1)
    quarantine(2)
    store.delete("q000002", None, "t", "r")
    store.record_message(record(3))
    Spool(settings.spool_dir).put(Envelope("a@example.net", ("b@example.com",)), b"x")
    login(client, "viewer")
    text = client.get("/metrics").text
    assert 'mailward_messages_total{action="quarantine"} 1.0' in text
    assert "mailward_quarantine_held 1.0" in text
    assert "mailward_spool_depth 1.0" in text and "mailward_spool_held 0.0" in text


def test_metrics_answer_the_bearer_token(settings: Settings, store: Store) -> None:
    cfg = settings.model_copy(update={"console": settings.console.model_copy(
        update={"metrics_token": SecretStr("scrape-me-please")})})
    app = build_app(cfg, store=store)
    with TestClient(app) as c:
        assert c.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
        r = c.get("/metrics", headers={"authorization": "Bearer scrape-me-please"})
        assert r.status_code == 200 and "mailward_spool_depth" in r.text
    app.state.close()


def test_metrics_count_rate_limit_refusals_and_fail_open(client: TestClient) -> None:
    from mailward.ratelimit import STATS

    STATS.refused["sender"] += 2
    STATS.failed_open += 1
    login(client, "viewer")
    text = client.get("/metrics").text
    assert f'mailward_ratelimit_refused_total{{scope="sender"}} {STATS.refused["sender"]:.1f}' \
        in text
    assert 'mailward_ratelimit_refused_total{scope="recipient"}' in text
    assert f"mailward_ratelimit_failed_open_total {STATS.failed_open:.1f}" in text
