"""Console alerts: the list (filters, paging), one alert with its evidence as text, and
acknowledge / close (analyst, CSRF, reason, audited; close undoes the automatic responses
through ``ActivityMonitor.close_alert``, as `mailward alerts close` does)."""

from __future__ import annotations

import time
from typing import Any

from starlette.testclient import TestClient
from web_helpers import Quarantine, csrf_of, login

from mailward.activity import ActivityFinding, ActivityMonitor
from mailward.config.activity import ResponseSettings
from mailward.config.settings import Settings
from mailward.response.lockdown import Level, LockdownState
from mailward.store import Store

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def raise_alert(settings: Settings, store: Store, subject: str, *, weight: float = 6.0,
                kind: str = "account", evidence: dict[str, Any] | None = None,
                explanation: str = "sent to 80 new recipients in an hour",
                lockdown: LockdownState | None = None) -> int:
    """An alert opened through the library, as the gateway's checks open one."""
    monitor = ActivityMonitor(settings, store, lockdown)
    try:
        finding = ActivityFinding("ACT_SEND_BURST", kind, subject, weight, explanation,
                                  time.time(), evidence or {"recipients": 80})
        (change,) = monitor.raise_alerts([finding])
        return change.alert.id
    finally:
        monitor.notifier.join()
        monitor.close()


def test_the_list_shows_alerts_newest_first_with_filters(
    client: TestClient, settings: Settings, store: Store
) -> None:
    low = raise_alert(settings, store, "alice@example.com")
    high = raise_alert(settings, store, "198.51.100.0/24", kind="auth", weight=13.0)
    login(client, "viewer")
    body = client.get("/api/alerts").json()
    assert [a["id"] for a in body["alerts"]] == [high, low] and body["next"] is None

    def ids(query: str) -> list[int]:
        r = client.get(f"/api/alerts?{query}")
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()["alerts"]]

    assert ids("kind=auth") == [high]
    assert ids("severity=high") == [high]
    assert ids("severity=low") == [low]
    assert ids("state=closed") == []
    assert ids("state=open") == [high, low]
    page = client.get("/alerts").text
    assert page.index("198.51.100.0/24") < page.index("alice@example.com")
    assert f'href="/alerts/{high}"' in page
    assert client.get("/api/alerts?state=bogus").status_code == 400
    assert client.get("/api/alerts?severity=critical").status_code == 400
    assert client.get("/api/alerts?before=x").status_code == 400


def test_alerts_are_paged_by_id(client: TestClient, settings: Settings, store: Store) -> None:
    monitor = ActivityMonitor(settings, store)
    changes = monitor.raise_alerts([
        ActivityFinding("ACT_SEND_BURST", "account", f"user{n}@example.com", 6.0, "burst",
                        time.time()) for n in range(25)])
    monitor.notifier.join()
    monitor.close()
    made = sorted(c.alert.id for c in changes)
    assert len(made) == 25
    login(client, "viewer")
    seen: list[int] = []
    url = "/api/alerts"
    while url:
        body = client.get(url).json()
        seen += [a["id"] for a in body["alerts"]]
        url = f"/api/alerts?before={body['next']}" if body["next"] else ""
    assert seen == list(reversed(made))
    assert 'rel="next"' in client.get("/alerts").text


def test_an_alert_shows_its_evidence_as_text(
    client: TestClient, settings: Settings, store: Store
) -> None:
    alert_id = raise_alert(settings, store, f"{HOSTILE}@example.com",
                           explanation=f"explained {HOSTILE}", evidence={"subject": HOSTILE})
    login(client, "viewer")
    page = client.get(f"/alerts/{alert_id}")
    assert page.status_code == 200
    assert "<script>" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;" in page.text and "explained &lt;script&gt;" in page.text
    assert 'id="ack"' not in page.text  # a viewer sees no action buttons
    body = client.get(f"/api/alerts/{alert_id}").json()
    assert body["evidence"][0]["evidence"] == {"subject": HOSTILE}
    assert body["held"] == [] and body["released"] == []
    assert client.get("/api/alerts/99999").status_code == 404
    assert client.get("/alerts/not-a-number").status_code == 404


def test_an_analyst_acknowledges_then_closes_an_alert_on_the_page(
    client: TestClient, settings: Settings, store: Store
) -> None:
    alert_id = raise_alert(settings, store, "alice@example.com")
    login(client, "analyst")
    page = client.get(f"/alerts/{alert_id}").text
    assert 'id="ack"' in page
    r = client.post(f"/alerts/{alert_id}/ack",
                    data={"csrf": csrf_of(page), "reason": "looking into it"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/alerts/{alert_id}?")
    page = client.get(r.headers["location"]).text
    assert "acknowledged" in page and "looking into it" in page
    r = client.post(f"/alerts/{alert_id}/close",
                    data={"csrf": csrf_of(page), "reason": "a mailing, not a burst"})
    assert r.status_code == 303
    body = client.get(f"/api/alerts/{alert_id}").json()
    assert body["state"] == "closed" and body["acted_by"] == "analyst"
    actions = {(a.actor, a.action) for a in store.audit_log(f"alert-{alert_id}", 10)}
    assert {("analyst", "alert acknowledged"), ("analyst", "alert closed")} <= actions
    assert 'id="close"' not in client.get(f"/alerts/{alert_id}").text  # closed: nothing to do


def test_close_undoes_the_automatic_responses(
    client: TestClient, settings: Settings, store: Store, quarantine: Quarantine,
    delivered: list[str],
) -> None:
    account = ResponseSettings(hold_outbound=True, raise_lockdown="heightened")
    responses = settings.activity.responses.model_copy(update={"account": account})
    responding = settings.model_copy(update={"activity": settings.activity.model_copy(
        update={"responses": responses})})
    lockdown = LockdownState(settings.store_url, cache_seconds=0.0)
    try:
        alert_id = raise_alert(responding, store, "alice@example.com", lockdown=lockdown)
        assert lockdown.level() is Level.HEIGHTENED
        held = quarantine(1)
        monitor = ActivityMonitor(settings, store)
        alert = monitor.alerts.get(alert_id)
        assert alert is not None and "hold_outbound" in alert.responses
        monitor.record_hold(held, alert, ("bob@example.com",), "deliver")
        monitor.close()
        csrf = login(client, "analyst")
        r = client.post(f"/api/alerts/{alert_id}/close", json={"reason": "false alarm"},
                        headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200, r.text
        assert r.json()["released"] == [held] and r.json()["delivered"] == 1
        assert len(delivered) == 1
        entry = store.get_quarantine(held)
        assert entry is not None and entry.status == "released"
        assert lockdown.level() is Level.NORMAL
        assert client.get(f"/api/alerts/{alert_id}").json()["released"] == [held]
    finally:
        lockdown.close()


def test_actions_are_refused_to_viewers_without_csrf_or_reason(
    client: TestClient, settings: Settings, store: Store
) -> None:
    alert_id = raise_alert(settings, store, "alice@example.com")
    csrf = login(client, "viewer")
    for verb in ("ack", "close"):
        r = client.post(f"/api/alerts/{alert_id}/{verb}", json={"reason": "x"},
                        headers={"X-CSRF-Token": csrf})
        assert r.status_code == 403
    csrf = login(client, "analyst")
    assert client.post(f"/api/alerts/{alert_id}/ack", json={"reason": "x"}).status_code == 403
    assert client.post(f"/api/alerts/{alert_id}/ack", json={"reason": "x"},
                       headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert client.post(f"/api/alerts/{alert_id}/close", json={},
                       headers={"X-CSRF-Token": csrf}).status_code == 400
    assert client.post("/api/alerts/99999/close", json={"reason": "x"},
                       headers={"X-CSRF-Token": csrf}).status_code == 404
    assert client.get(f"/api/alerts/{alert_id}").json()["state"] == "open"
    ok = client.post(f"/api/alerts/{alert_id}/close", json={"reason": "x"},
                     headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json()["state"] == "closed"
    again = client.post(f"/api/alerts/{alert_id}/ack", json={"reason": "x"},
                        headers={"X-CSRF-Token": csrf})
    assert again.status_code == 400 and "closed already" in again.json()["error"]


def test_the_pages_need_a_session(client: TestClient) -> None:
    assert client.get("/api/alerts").status_code == 401
    assert client.get("/alerts").status_code == 303
