"""Lockdown and hunt in the console: who may change what, the audit trail, backlog progress."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient
from web_helpers import login

from mailward.cluster.held import HeldStore
from mailward.config.cluster import ClusterSettings
from mailward.config.settings import Settings
from mailward.model import Envelope
from mailward.response.release import ReleaseReport
from mailward.spool.queue import Spool, SpoolEntry, SpoolState
from mailward.store import Store
from mailward.web import build_app


def test_lockdown_level_changes_need_admin_and_a_reason(client: TestClient, store: Store) -> None:
    csrf = login(client, "analyst")
    status = client.get("/api/lockdown").json()
    assert status["level"] == "normal" and status["held"] == 0
    assert "Set the level" not in client.get("/lockdown").text
    r = client.post("/api/lockdown/level", json={"level": "hold-all", "reason": "upgrade"},
                    headers={"x-csrf-token": csrf})
    assert r.status_code == 403
    csrf = login(client, "admin")
    headers = {"x-csrf-token": csrf}
    assert client.post("/api/lockdown/level", json={"level": "hold-all"}, headers=headers
                       ).status_code == 400
    assert client.post("/api/lockdown/level", json={"level": "panic", "reason": "x"},
                       headers=headers).status_code == 400
    assert client.post("/api/lockdown/level", json={"level": "hold-all", "reason": "upgrade"},
                       headers=headers).json() == {"level": "hold-all"}
    assert client.get("/api/lockdown").json()["level"] == "hold-all"
    line = store.audit_log("lockdown")[0]
    assert (line.actor, line.action, line.reason) == ("admin", "lockdown normal -> hold-all",
                                                      "upgrade")
    page = client.get("/lockdown").text
    assert 'id="set-level"' in page and "upgrade" in page
    # outside a running gateway there is no processor to release the backlog with
    assert client.post("/api/lockdown/release", json={"reason": "done"}, headers=headers
                       ).status_code == 503


@pytest.fixture
def backlog_client(settings: Settings, store: Store, users: None) -> Iterator[TestClient]:
    async def release(progress: Callable[[int, int], None]) -> ReleaseReport:
        for done in (2, 4, 5):
            progress(done, 5)
        return ReleaseReport(5, Counter({"deliver": 4, "quarantine": 1}))

    app = build_app(settings, store=store, release_backlog=release)
    with TestClient(app, follow_redirects=False) as c:
        yield c
    app.state.close()


def test_the_backlog_release_runs_and_reports_progress(
    backlog_client: TestClient, store: Store
) -> None:
    csrf = login(backlog_client, "admin")
    r = backlog_client.post("/api/lockdown/release", json={"reason": "upgrade done"},
                            headers={"x-csrf-token": csrf})
    assert r.json() == {"started": True}
    deadline = time.time() + 10
    while (status := backlog_client.get("/api/lockdown").json()["release"])["running"]:
        assert time.time() < deadline
    assert status["done"] == status["total"] == 5
    assert status["result"] == "held 5: delivered 4, quarantined 1"
    assert store.audit_log("lockdown")[0].action == "lockdown-release"
    assert "/static/lockdown.js" in backlog_client.get("/lockdown").text


def test_hunt_needs_an_indicator_and_clawback_a_confirmation(client: TestClient) -> None:
    csrf = login(client, "analyst")
    assert client.get("/api/hunt").json() == {"hits": []}
    assert client.get("/api/hunt?sender=nobody@example.net").json() == {"hits": []}
    body = {"message_id": "<x@example.net>", "recipients": ["alice@example.com"],
            "reason": "phish"}
    r = client.post("/api/hunt/clawback", json=body, headers={"x-csrf-token": csrf})
    assert r.status_code == 400 and "confirm" in r.json()["error"]
    csrf = login(client, "viewer")
    r = client.post("/api/hunt/clawback", json={**body, "confirm": "yes"},
                    headers={"x-csrf-token": csrf})
    assert r.status_code == 403


def test_admins_manage_users_in_the_console(client: TestClient, store: Store) -> None:
    csrf = login(client, "analyst")
    assert client.get("/users").status_code == 403
    assert client.post("/api/users", json={"op": "remove", "name": "viewer"},
                       headers={"x-csrf-token": csrf}).status_code == 403
    csrf = login(client, "admin")
    h = {"x-csrf-token": csrf}
    assert client.post("/api/users", json={"op": "add", "name": "zoe", "role": "analyst",
                                           "password": "short"}, headers=h).status_code == 400
    r = client.post("/api/users", json={"op": "add", "name": "zoe", "role": "analyst",
                                        "password": "long enough pw"}, headers=h)
    assert r.json() == {"done": "added zoe (analyst)"}
    assert client.post("/api/users", json={"op": "role", "name": "zoe", "role": "viewer"},
                       headers=h).status_code == 200
    assert {"name": "zoe", "role": "viewer"} in client.get("/api/users").json()["users"]
    assert client.post("/api/users", json={"op": "remove", "name": "admin"},
                       headers=h).status_code == 400  # not yourself
    assert client.post("/api/users", json={"op": "remove", "name": "zoe"},
                       headers=h).status_code == 200
    assert [a.action for a in store.audit_log("user:zoe")] == ["user-remove", "user-role",
                                                               "user-add"]
    assert store.audit_log("user:zoe")[0].actor == "admin"
    page = client.get("/users").text
    assert 'id="add-user"' in page and "Reload the configuration" not in page
    assert client.post("/api/reload", json={}, headers=h).status_code == 503


def test_reload_from_the_console_asks_the_gateway(
    settings: Settings, store: Store, users: None
) -> None:
    asked: list[bool] = []
    app = build_app(settings, store=store, reload=lambda: asked.append(True))
    with TestClient(app, follow_redirects=False) as c:
        csrf = login(c, "admin")
        r = c.post("/api/reload", json={"reason": "new rules"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 200 and asked == [True]
    app.state.close()
    assert store.audit_log("configuration")[0].reason == "new rules"


def test_a_cluster_nodes_lockdown_page_shows_the_shared_held_count(
    settings: Settings, users: None
) -> None:
    clustered = settings.model_copy(update={"cluster": ClusterSettings(
        redis_url="redis://127.0.0.1:1/0", node_id="node-a")})  # Redis is not asked
    held = HeldStore(clustered.store_url)
    spool = Spool(clustered.spool_dir)
    try:
        for n in range(3):  # parked by any node: in the shared store
            env = Envelope("bob@partner.example.net", ("alice@example.com",), received_at=n)
            held.park(SpoolEntry(f"held{n:03d}", env, b"Subject: x\r\n\r\nx\r\n", {}), "node-b")
        env = Envelope("bob@partner.example.net", ("alice@example.com",))
        spool.put(env, b"Subject: y\r\n\r\ny\r\n", state=SpoolState(held=True))
        spool.put(env, b"Subject: z\r\n\r\nz\r\n")
        app = build_app(clustered)
        with TestClient(app, follow_redirects=False) as c:
            login(c, "viewer")
            status = c.get("/api/lockdown").json()
            page = c.get("/lockdown").text
        app.state.close()
    finally:
        held.close()
    assert status["cluster"] is True and status["held"] == 3 and status["queued"] == 5
    assert status["node"] == {"id": "node-a", "held": 1, "queued": 2}
    assert "Held in the cluster (shared store)" in page
    assert "This node's spool (node-a)" in page and 'id="node-held">1<' in page


def test_a_single_nodes_lockdown_page_shows_its_spool(client: TestClient,
                                                      settings: Settings) -> None:
    env = Envelope("bob@partner.example.net", ("alice@example.com",))
    Spool(settings.spool_dir).put(env, b"Subject: y\r\n\r\ny\r\n", state=SpoolState(held=True))
    login(client, "viewer")
    status = client.get("/api/lockdown").json()
    assert status["cluster"] is False and status["held"] == 1 and status["queued"] == 1
    page = client.get("/lockdown").text
    assert "Held in the spool" in page and "Held in the cluster" not in page
