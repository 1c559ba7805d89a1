"""Console authentication: what answers without a session, login, rate limit, CSRF, roles,
session expiry, security headers, and the audit trail of logins."""

from __future__ import annotations

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient
from web_helpers import PASSWORD, Clock, Quarantine, csrf_of, login

from mailward.store import Store


def test_only_login_static_and_health_answer_without_a_session(
    client: TestClient, quarantine: Quarantine
) -> None:
    entry = quarantine()
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/login").status_code == 200
    assert client.get("/static/console.css").status_code == 200
    r = client.get("/quarantine")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    open_routes = {"/health", "/login", "/api/login"}
    for route in client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, Route) or route.path in open_routes:
            continue
        path = route.path.replace("{entry_id}", entry)
        for method in route.methods or ():
            if method == "HEAD":
                continue
            r = client.request(method, path)
            assert r.status_code in (303, 401), (method, path, r.status_code)
            assert entry not in r.text and "mailbox" not in r.text


def test_login_with_the_form_sets_an_httponly_strict_cookie_and_audits(
    client: TestClient, store: Store
) -> None:
    r = client.post("/login", data={"username": "analyst", "password": PASSWORD,
                                    "next": "/quarantine?status=all"})
    assert r.status_code == 303 and r.headers["location"] == "/quarantine?status=all"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/quarantine").status_code == 200
    line = store.audit_log("user:analyst")[0]
    assert (line.actor, line.action) == ("analyst", "console-login")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_login_never_redirects_off_site(client: TestClient, target: str) -> None:
    r = client.post("/login", data={"username": "viewer", "password": PASSWORD, "next": target})
    assert r.headers["location"] == "/"


def test_wrong_password_and_unknown_user_are_refused_alike(client: TestClient) -> None:
    a = client.post("/login", data={"username": "viewer", "password": "nope-nope"})
    b = client.post("/login", data={"username": "nobody", "password": "nope-nope"})
    assert a.status_code == b.status_code == 401
    assert "wrong user name or password" in a.text and "set-cookie" not in a.headers
    assert client.get("/api/session").status_code == 401


def test_login_from_another_origin_is_refused(client: TestClient) -> None:
    r = client.post("/login", data={"username": "viewer", "password": PASSWORD},
                    headers={"origin": "https://evil.example"})
    assert r.status_code == 403


def test_login_is_rate_limited_per_user_even_with_the_right_password(client: TestClient) -> None:
    for _ in range(5):
        assert client.post("/api/login", json={"username": "admin", "password": "x" * 9}
                           ).status_code == 401
    r = client.post("/api/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 429
    # another user from the same address is not yet blocked (the address limit is 10)
    assert client.post("/api/login", json={"username": "viewer", "password": PASSWORD}
                       ).status_code == 200


def test_login_is_rate_limited_per_address(client: TestClient) -> None:
    for i in range(10):
        client.post("/api/login", json={"username": f"guess{i}", "password": "x" * 9})
    r = client.post("/api/login", json={"username": "viewer", "password": PASSWORD})
    assert r.status_code == 429


def test_a_state_change_without_the_csrf_token_is_refused(
    client: TestClient, quarantine: Quarantine, store: Store
) -> None:
    entry = quarantine()
    login(client, "analyst")
    for headers in ({}, {"x-csrf-token": "wrong"}):
        r = client.post(f"/api/quarantine/{entry}/delete", json={"reason": "x"}, headers=headers)
        assert r.status_code == 403
    page = client.get(f"/quarantine/{entry}").text
    assert csrf_of(page)
    r = client.post(f"/quarantine/{entry}/release", data={"reason": "ok", "csrf": "forged"})
    assert r.status_code == 403
    r = client.post(f"/quarantine/{entry}/release", data={"reason": "ok"})
    assert r.status_code == 403
    assert r.status_code == 403 and "CSRF" in r.text
    entry_now = store.get_quarantine(entry)
    assert entry_now is not None and entry_now.status == "held"
    assert client.post("/logout").status_code == 403  # logging out is a state change too


def test_a_viewer_sees_no_action_and_the_api_refuses_it(
    client: TestClient, quarantine: Quarantine, store: Store
) -> None:
    entry = quarantine()
    csrf = login(client, "viewer")
    page = client.get(f"/quarantine/{entry}")
    assert page.status_code == 200 and 'id="release"' not in page.text
    assert 'action="/quarantine/' not in page.text
    for act in ("release", "delete", "report"):
        r = client.post(f"/api/quarantine/{entry}/{act}",
                        json={"reason": "mine", "label": "phish"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 403, act
    e = store.get_quarantine(entry)
    assert e is not None and e.status == "held"


def test_an_analyst_sees_the_actions(client: TestClient, quarantine: Quarantine) -> None:
    entry = quarantine()
    login(client, "analyst")
    page = client.get(f"/quarantine/{entry}").text
    assert 'id="release"' in page and 'id="report-phish"' in page


def test_a_session_expires_when_idle(client: TestClient, clock: Clock) -> None:
    login(client, "viewer")
    clock.now += 1000
    assert client.get("/api/session").status_code == 200
    clock.now += 1799  # 1800 s idle is the default
    assert client.get("/api/session").status_code == 200
    clock.now += 1801
    assert client.get("/api/session").status_code == 401
    r = client.get("/quarantine")
    assert r.status_code == 303 and "/login" in r.headers["location"]


def test_a_session_expires_after_the_absolute_limit_however_busy(
    client: TestClient, clock: Clock
) -> None:
    login(client, "viewer")
    for _ in range(12 * 6):  # a request every 10 minutes for 12 hours
        assert client.get("/api/session").status_code == 200
        clock.now += 600
    clock.now += 1  # 12 h and a second after login
    assert client.get("/api/session").status_code == 401


def test_logout_ends_the_session(client: TestClient, store: Store) -> None:
    csrf = login(client, "viewer")
    assert client.post("/api/logout", headers={"x-csrf-token": csrf}).status_code == 200
    assert client.get("/api/session").status_code == 401
    assert store.audit_log("user:viewer")[0].action == "console-logout"


def test_security_headers(client: TestClient, quarantine: Quarantine) -> None:
    entry = quarantine()
    login(client, "viewer")
    for path in ("/login", f"/quarantine/{entry}", "/quarantine", "/static/console.css"):
        h = client.get(path).headers
        csp = h["content-security-policy"]
        assert "script-src 'self'" in csp and "img-src 'self' data:" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
        if not path.startswith("/static/"):
            assert h["cache-control"] == "no-store"


def test_changing_a_role_ends_the_users_sessions(client: TestClient, settings: object) -> None:
    from mailward.web._accounts import Accounts

    login(client, "analyst")
    accounts = Accounts(settings.store_url)  # type: ignore[attr-defined]
    try:
        accounts.set_role("analyst", "viewer")
    finally:
        accounts.close()
    assert client.get("/api/session").status_code == 401
    assert login(client, "analyst")
    assert client.get("/api/session").json()["role"] == "viewer"


def test_an_oversized_body_is_refused(client: TestClient, quarantine: Quarantine) -> None:
    entry = quarantine()
    csrf = login(client, "analyst")
    r = client.post(f"/api/quarantine/{entry}/delete", content=b"{" + b" " * 70_000 + b"}",
                    headers={"x-csrf-token": csrf, "content-type": "application/json"})
    assert r.status_code == 400 and "over" in r.json()["error"]
