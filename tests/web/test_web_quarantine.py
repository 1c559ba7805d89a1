"""Console quarantine: list, filters, paging, message view, release / delete / report (pages and
JSON API), each through the CLI's paths and written to the audit log under the user's name."""

from __future__ import annotations

import html
import re

from starlette.testclient import TestClient
from web_helpers import Quarantine, csrf_of, login, phish_message

from mailward.config.settings import Settings
from mailward.spool.queue import Spool
from mailward.store import Store
from mailward.store.feedback import FeedbackStore


def test_the_list_shows_held_entries_newest_first(
    client: TestClient, quarantine: Quarantine
) -> None:
    for n in range(3):
        quarantine(n, subject=f"Lure number {n}")
    login(client, "viewer")
    page = client.get("/quarantine").text
    assert page.index("Lure number 2") < page.index("Lure number 1") < page.index("Lure number 0")
    body = client.get("/api/quarantine").json()
    assert [e["subject"] for e in body["entries"]] == [f"Lure number {n}" for n in (2, 1, 0)]
    assert body["next"] is None


def test_keyset_paging_walks_every_entry_once(
    client: TestClient, quarantine: Quarantine
) -> None:
    for n in range(45):  # page size 20 in these tests; two share each time stamp
        quarantine(n, at=1_765_000_000.0 + n // 2)
    login(client, "viewer")
    seen: list[str] = []
    url = "/api/quarantine"
    while url:
        body = client.get(url).json()
        seen += [e["id"] for e in body["entries"]]
        url = f"/api/quarantine?after={body['next']}" if body["next"] else ""
    assert seen == [f"q{n:06d}" for n in reversed(range(45))]
    page = client.get("/quarantine").text
    assert 'rel="next"' in page
    older = re.search(r'rel="next" href="([^"]+)"', page)
    assert older
    assert client.get(html.unescape(older[1])).status_code == 200


def test_filters(client: TestClient, quarantine: Quarantine, store: Store) -> None:
    quarantine(1, sender="boss@lookalike.example", score=25.0, symbol="IMP_DISPLAY_NAME")
    quarantine(2, to=("bob@example.com", "carol@example.com"), at=1_765_100_000.0)
    quarantine(3, subject="Invoice 100% overdue")
    store.delete("q000003", None, "test", "gone")
    login(client, "viewer")

    def ids(query: str) -> list[str]:
        r = client.get(f"/api/quarantine?{query}")
        assert r.status_code == 200, r.text
        return [e["id"] for e in r.json()["entries"]]

    assert ids("") == ["q000002", "q000001"]
    assert ids("status=all") == ["q000002", "q000003", "q000001"]
    assert ids("status=deleted") == ["q000003"]
    assert ids("sender=LOOKALIKE") == ["q000001"]
    assert ids("recipient=carol") == ["q000002"]
    assert ids("symbol=imp_display_name") == ["q000001"]
    assert ids("symbol=IMP_DISPLAY") == []  # a symbol matches whole
    assert ids("min_score=20") == ["q000001"]
    assert ids("max_score=20") == ["q000002"]
    assert ids("since=2025-12-07T00:00") == ["q000002"]
    assert ids("until=1765050000") == ["q000001"]
    assert ids("status=all&subject=100%25") == ["q000003"]
    assert ids("status=all&subject=_") == []  # LIKE wildcards are escaped
    assert ids("action=reject") == []
    assert client.get("/api/quarantine?min_score=abc").status_code == 400
    assert client.get("/api/quarantine?status=bogus").status_code == 400
    assert client.get("/api/quarantine?after=garbage").status_code == 400


def test_the_message_view_explains_and_shows_the_evidence_safely(
    client: TestClient, quarantine: Quarantine
) -> None:
    entry = quarantine()
    login(client, "viewer")
    page = client.get(f"/quarantine/{entry}").text
    assert "The link text shows one site and the link goes to another." in page
    assert "URL_TEXT_MISMATCH" in page
    assert "hxxps://login[.]evil[.]example[.]net/reset?u=alice" in page
    assert 'href="https://login' not in page
    assert "invoice.pdf" in page and "application/pdf" in page
    assert "application/vnd.microsoft.portable-executable" in page and 'class="mismatch"' in page
    assert re.search(r"[0-9a-f]{64}", page)
    assert "Message-ID" in page and "alice@example.com" in page
    detail = client.get(f"/api/quarantine/{entry}").json()
    assert detail["findings"][0]["symbol"] == "URL_TEXT_MISMATCH"
    assert client.get("/quarantine/nope").status_code == 404


def test_release_from_the_page_spools_delivers_and_audits(
    client: TestClient, quarantine: Quarantine, store: Store, settings: Settings,
    delivered: list[str],
) -> None:
    entry = quarantine(to=("alice@example.com", "bob@example.com"))
    login(client, "analyst")
    csrf = csrf_of(client.get(f"/quarantine/{entry}").text)
    r = client.post(f"/quarantine/{entry}/release",
                    data={"csrf": csrf, "rcpt": "bob@example.com", "reason": "known newsletter"})
    assert r.status_code == 303
    assert "released" in client.get(r.headers["location"]).text
    e = store.get_quarantine(entry)
    assert e is not None and e.recipients == {"alice@example.com": "held",
                                              "bob@example.com": "released"}
    assert len(delivered) == 1
    assert Spool(settings.spool_dir).load(delivered[0]).envelope.rcpt_tos == ("bob@example.com",)
    line = store.audit_log(entry)[0]
    assert (line.actor, line.action, line.recipients, line.reason) == (
        "analyst", "release", ("bob@example.com",), "known newsletter")
    feedback = FeedbackStore(settings.store_url)
    try:
        assert [s.label for s in feedback.iter_samples()] == ["ham"]
    finally:
        feedback.close()


def test_release_and_delete_through_the_api(
    client: TestClient, quarantine: Quarantine, store: Store
) -> None:
    first, second = quarantine(1), quarantine(2)
    csrf = login(client, "analyst")
    headers = {"x-csrf-token": csrf}
    r = client.post(f"/api/quarantine/{first}/release", json={"reason": "ok"}, headers=headers)
    assert r.status_code == 200 and r.json()["released"] == ["alice@example.com"]
    assert r.json()["state"] == "delivered"
    r = client.post(f"/api/quarantine/{first}/release", json={"reason": "again"},
                    headers=headers)
    assert r.status_code == 400  # nothing held any more
    assert client.post(f"/api/quarantine/{second}/delete", json={}, headers=headers
                       ).status_code == 400  # a reason is required
    r = client.post(f"/api/quarantine/{second}/delete", json={"reason": "malware"},
                    headers=headers)
    assert r.json() == {"deleted": ["alice@example.com"]}
    e = store.get_quarantine(second)
    assert e is not None and e.status == "deleted" and store.quarantine_raw(second) == b""
    assert store.audit_log(second)[0].actor == "analyst"
    r = client.post(f"/api/quarantine/{first}/release",
                    json={"reason": "x", "recipients": "alice@example.com"}, headers=headers)
    assert r.status_code == 400


def test_report_as_phish_or_false_positive_feeds_the_classifier(
    client: TestClient, quarantine: Quarantine, store: Store, settings: Settings
) -> None:
    entry = quarantine()
    login(client, "analyst")
    csrf = csrf_of(client.get(f"/quarantine/{entry}").text)
    for label in ("phish", "false-positive"):
        r = client.post(f"/quarantine/{entry}/report",
                        data={"csrf": csrf, "label": label, "reason": "seen it"})
        assert r.status_code == 303
    assert client.post(f"/quarantine/{entry}/report",
                       data={"csrf": csrf, "label": "bogus", "reason": "x"}).status_code == 400
    feedback = FeedbackStore(settings.store_url)
    try:
        assert [s.label for s in feedback.iter_samples()] == ["phish", "ham"]
    finally:
        feedback.close()
    assert [a.action for a in store.audit_log(entry)] == ["report-ham", "report-phish"]


def test_markup_in_what_a_message_carries_is_shown_as_text(
    client: TestClient, quarantine: Quarantine
) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    raw = phish_message(
        subject=f"Hello {evil}", display=f"CEO {evil}", filename=f"{evil}.pdf",
        extra_headers={"X-Evil": evil},
        html=f'<p onclick="steal()">Hi</p>{evil}<form action="https://evil.example/"><input>'
             '</form><img src="https://tracker.example/p.gif">',
    )
    entry = quarantine(raw=raw, subject=f"Hello {evil}", sender=f"{evil}@evil.example")
    login(client, "viewer")
    for path in ("/quarantine", f"/quarantine/{entry}"):
        page = client.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
        assert "<form action=\"https://evil" not in page and "tracker.example/p.gif\"" not in page
        assert "<script" not in page  # not even our own: the console has no inline script
