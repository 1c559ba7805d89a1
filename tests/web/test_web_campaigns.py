"""Console campaigns: the list (state filter, paging, members, recipients, senders, verdicts),
one campaign with its members (those in the quarantine linked), "mark bad" (analyst, CSRF,
reason, confirmation; ``Campaigns.found_bad`` as `mailward campaigns bad`), and the campaign
filter of the quarantine list."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient
from web_helpers import Quarantine, csrf_of, login

from mailward.activity.campaigns import Campaigns
from mailward.config.settings import LimitSettings, Settings
from mailward.delivery.maildir import MaildirDelivery
from mailward.mime import parse_message
from mailward.model import Action, Envelope, Verdict
from mailward.response.indicators import entry_from_message, maildir_location
from mailward.response.journal import Journal
from mailward.store import Store

HOSTILE = '<script>alert("x")</script>'
DELIVER = Verdict(Action.DELIVER, 1.0, "clean")
HELD = Verdict(Action.QUARANTINE, 14.0, "phish")


LURES = [
    "Your invoice {ref} of {amount} EUR is overdue. To avoid the suspension of your account, "
    "review and pay it today at {link} before the end of the day.",
    "We detected an unusual sign-in to your mailbox from a new device. Confirm your identity "
    "within the hour at {link} or the mailbox will be locked, reference {ref}.",
    "A parcel could not be delivered because the customs fee of {amount} EUR was not paid. "
    "Schedule a new delivery at {link} quoting tracking number {ref}.",
]


def lure(n: int, subject: str, text: int = 0) -> bytes:
    words = LURES[text].format(ref=1000 + n, amount=f"{n * 17}.50",
                               link=f"https://secure-{n}.pay{n}.test/x?id={9000 + n}")
    body = (f"Dear Person{n} Name{n},\r\n\r\n{words}\r\n\r\nKind regards,\r\n"
            "Customer service\r\n")
    return (f"From: Billing <billing@vendor{n}.test>\r\nTo: person{n}@example.com\r\n"
            f"Subject: {subject}\r\nMessage-ID: <lure{n}@vendor{n}.test>\r\n"
            f"Content-Type: text/plain\r\n\r\n{body}").encode()


def envelope(n: int, at: float) -> Envelope:
    return Envelope(mail_from=f"bounce@mx{n}.test", rcpt_tos=(f"person{n}@example.com",),
                    peer_ip=f"198.51.{n}.7", received_at=at)


Wave = Callable[..., str]


@pytest.fixture
def wave(settings: Settings, store: Store) -> Iterator[Wave]:
    """Puts a wave of lures through the campaign clustering (spool ids q000000...: the
    quarantine fixture's ids); ``held`` members are quarantined, the others delivered and
    delivered into the Maildirs and journaled. Returns the campaign id."""
    journal = Journal(settings.store_url)
    campaigns = Campaigns(settings, store, journal, now=time.time())
    maildir = MaildirDelivery(settings.maildir_root)

    def make(members: int = 4, held: tuple[int, ...] = (), start: int = 0,
             subject: str = "Invoice overdue", quarantine: Quarantine | None = None,
             text: int = 0) -> str:
        placed = None
        for n in range(start, start + members):
            raw = lure(n, subject, text)
            at = time.time() - 100 + n
            verdict = HELD if n in held else DELIVER
            placed = campaigns.observe(f"q{n:06d}", envelope(n, at), parse_message(
                raw, LimitSettings()), verdict)
            if n in held and quarantine is not None:
                quarantine(n, raw=raw, subject=subject)
            elif n not in held:
                path = maildir.deliver(f"q{n:06d}", f"person{n}@example.com", raw)
                journal.record(entry_from_message(f"q{n:06d}", raw, envelope(n, at), DELIVER,
                                                  [(f"person{n}@example.com",
                                                    maildir_location(path))]))
        assert placed is not None and placed.is_campaign
        return placed.campaign_id

    yield make
    campaigns.close()
    journal.close()


def test_the_list_shows_campaigns_with_their_figures(
    client: TestClient, wave: Wave, quarantine: Quarantine
) -> None:
    cid = wave(4, held=(1,), quarantine=quarantine)
    login(client, "viewer")
    (row,) = client.get("/api/campaigns").json()["campaigns"]
    assert row["id"] == cid and row["members"] == 4 and row["state"] == "active"
    assert row["verdicts"] == {"deliver": 3, "quarantine": 1}
    assert len(row["recipients"]) == 4 and len(row["senders"]) == 4
    page = client.get("/campaigns").text
    assert f'href="/campaigns/{cid}"' in page and "deliver 3, quarantine 1" in page
    assert client.get("/api/campaigns?state=bad").json()["campaigns"] == []
    assert client.get("/api/campaigns?state=evil").status_code == 400
    assert client.get("/api/campaigns?after=nonsense").status_code == 400


def test_campaigns_are_paged(client: TestClient, settings: Settings, wave: Wave) -> None:
    made = [wave(3, start=10 * k, subject=f"Wave {k}", text=k) for k in range(3)]
    assert len(set(made)) == 3
    cfg = settings.console.model_copy(update={"page_size": 2})
    client.app.state.console.settings = settings.model_copy(update={"console": cfg})  # type: ignore[attr-defined]
    login(client, "viewer")
    seen: list[str] = []
    url = "/api/campaigns"
    while url:
        body = client.get(url).json()
        seen += [c["id"] for c in body["campaigns"]]
        url = f"/api/campaigns?after={body['next']}" if body["next"] else ""
    assert seen == list(reversed(made))


def test_a_campaign_lists_its_members_and_links_the_quarantined_ones(
    client: TestClient, wave: Wave, quarantine: Quarantine
) -> None:
    cid = wave(3, held=(2,), subject=f"Pay now {HOSTILE}", quarantine=quarantine)
    login(client, "viewer")
    page = client.get(f"/campaigns/{cid}").text
    assert "<script>" not in page and "Pay now &lt;script&gt;" in page
    assert 'href="/quarantine/q000002"' in page and 'href="/quarantine/q000000"' not in page
    assert 'id="mark-bad"' not in page  # a viewer sees no action button
    body = client.get(f"/api/campaigns/{cid}").json()
    assert [m["spool_id"] for m in body["member_list"]] == ["q000000", "q000001", "q000002"]
    assert [m["quarantined"] for m in body["member_list"]] == [False, False, True]
    assert client.get("/api/campaigns/c-000000000000").status_code == 404
    assert client.get("/campaigns/c-000000000000").status_code == 404


def test_the_quarantine_list_filters_by_campaign(
    client: TestClient, wave: Wave, quarantine: Quarantine
) -> None:
    cid = wave(3, held=(0, 2), quarantine=quarantine)
    quarantine(7, subject="not in any campaign")
    login(client, "viewer")
    ids = [e["id"] for e in client.get(f"/api/quarantine?campaign={cid}").json()["entries"]]
    assert ids == ["q000002", "q000000"]
    assert client.get("/api/quarantine?campaign=c-unknown").json()["entries"] == []
    assert len(client.get("/api/quarantine").json()["entries"]) == 3
    page = client.get(f"/quarantine?campaign={cid}").text
    assert f'name="campaign" value="{cid}"' in page and "not in any campaign" not in page


def test_an_analyst_marks_a_campaign_bad_and_its_delivered_members_are_clawed_back(
    client: TestClient, settings: Settings, store: Store, wave: Wave
) -> None:
    cid = wave(3)
    assert len(list(settings.maildir_root.glob("*/*/new/*"))) == 3
    login(client, "analyst")
    page = client.get(f"/campaigns/{cid}").text
    r = client.post(f"/campaigns/{cid}/bad", data={"csrf": csrf_of(page), "reason": "x"})
    assert r.status_code == 400  # not confirmed
    r = client.post(f"/campaigns/{cid}/bad",
                    data={"csrf": csrf_of(page), "reason": "credential lure", "confirm": "yes"})
    assert r.status_code == 303, r.text
    assert "3 delivered member(s) clawed back" in client.get(r.headers["location"]).text
    assert list(settings.maildir_root.glob("*/*/new/*")) == []  # moved to .Quarantine
    assert len(list(settings.maildir_root.glob("*/*/.Quarantine/new/*"))) == 3
    body = client.get(f"/api/campaigns/{cid}").json()
    assert body["state"] == "bad" and "reported by analyst: credential lure" in body["bad_why"]
    assert ("analyst", "campaign bad") in {(a.actor, a.action) for a in store.audit_log(cid, 10)}
    alerts = client.get("/api/alerts?kind=campaign").json()["alerts"]
    assert [a["subject"] for a in alerts] == [cid]
    assert f'href="/campaigns/{cid}"' in client.get(f"/alerts/{alerts[0]['id']}").text


def test_mark_bad_is_refused_to_viewers_without_csrf_reason_or_campaign(
    client: TestClient, wave: Wave
) -> None:
    cid = wave(3)
    csrf = login(client, "viewer")
    ok = {"reason": "x", "confirm": "yes"}
    assert client.post(f"/api/campaigns/{cid}/bad", json=ok,
                       headers={"X-CSRF-Token": csrf}).status_code == 403
    csrf = login(client, "analyst")
    assert client.post(f"/api/campaigns/{cid}/bad", json=ok).status_code == 403
    assert client.post(f"/api/campaigns/{cid}/bad", json={"confirm": "yes"},
                       headers={"X-CSRF-Token": csrf}).status_code == 400
    assert client.post("/api/campaigns/c-000000000000/bad", json=ok,
                       headers={"X-CSRF-Token": csrf}).status_code == 404
    assert client.get(f"/api/campaigns/{cid}").json()["state"] == "active"
    r = client.post(f"/api/campaigns/{cid}/bad", json=ok, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["state"] == "bad"
    assert sorted(r.json()["clawed_back"]) == ["q000000", "q000001", "q000002"]
