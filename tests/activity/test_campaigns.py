"""Campaign clustering, the campaign tables and the response to a bad campaign (SQLite, and
PostgreSQL when MAILWARD_TEST_PG_URL is set)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailward.activity.campaigns import Campaigns, message_indicators
from mailward.config.settings import LimitSettings, Settings
from mailward.mime import parse_message
from mailward.model import Action, Envelope, ParsedMessage, Verdict
from mailward.response.indicators import entry_from_message, maildir_location
from mailward.response.journal import Journal
from mailward.store import open_store

T0 = 1_800_000_000.0
CLEAN = Verdict(Action.DELIVER, 0.0, "clean")
PHISH = Verdict(Action.QUARANTINE, 14.0, "phish")
HAM = [
    "The quarterly report is attached; the figures for March are on page two.",
    "Lunch on Friday at the usual place? Bring the slides from the offsite.",
    "The build server will be down tonight for maintenance between nine and ten.",
    "Thanks for the review, I merged your changes into the release branch.",
    "Reminder: the fire drill is tomorrow morning, please leave by the east stairs.",
    "Can you send me the contract draft before the meeting with the lawyers?",
    "Our team offsite moves to the lake house; travel details follow next week.",
    "The new coffee machine arrived, instructions are pinned to the kitchen wall.",
]


def lure(i: int, *, link: str | None = None, attachment: bytes | None = None) -> bytes:
    link = link or f"https://secure-{i}.pay{i}.test/invoice?id={9000 + i}"
    body = (f"Dear Person{i} Name{i},\r\n\r\nYour invoice {1000 + i} of {i * 17}.50 EUR is "
            f"overdue. To avoid the suspension of your account, review and pay it today at "
            f"{link} before the end of the day.\r\n\r\nKind regards,\r\nAccounts receivable\r\n")
    head = (f"From: Billing <billing@vendor{i}.test>\r\nTo: person{i}.name{i}@example.com\r\n"
            f"Subject: Invoice {1000 + i} overdue\r\nMessage-ID: <lure{i}@vendor{i}.test>\r\n")
    if attachment is None:
        return (head + "Content-Type: text/plain\r\n\r\n" + body).encode()
    import base64
    return (head + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            "--b\r\nContent-Type: text/plain\r\n\r\n" + body + "\r\n--b\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Disposition: attachment; filename=a.bin\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode(attachment).decode() + "\r\n--b--\r\n").encode()


def ham(i: int, text: str | None = None) -> bytes:
    return (f"From: Colleague <c{i}@partner{i}.test>\r\nTo: user{i}@example.com\r\n"
            f"Subject: note {i}\r\nMessage-ID: <ham{i}@partner{i}.test>\r\n\r\n"
            f"{text or HAM[i % len(HAM)]}\r\n").encode()


def parse(raw: bytes) -> ParsedMessage:
    return parse_message(raw, LimitSettings())


def env(i: int, at: float, rcpt: str | None = None) -> Envelope:
    return Envelope(mail_from=f"bounce@mx{i}.test", rcpt_tos=(rcpt or f"person{i}.name{i}@example.com",),
                    peer_ip=f"198.51.{i % 250}.7", received_at=at)


@pytest.fixture
def make_campaigns(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Campaigns]]:
    opened: list[Any] = []

    def make(journal: Journal | None = None, monitor: Any = None, **campaigns: Any) -> Campaigns:
        base = make_settings()
        settings = base.model_copy(update={"campaigns": base.campaigns.model_copy(
            update=campaigns)})
        store = open_store(settings.store_url)
        found = Campaigns(settings, store, journal, monitor, now=T0)
        opened.extend([found, store])
        return found

    yield make
    for thing in reversed(opened):
        thing.close()


def observe(c: Campaigns, i: int, raw: bytes, at: float, verdict: Verdict = CLEAN,
            rcpt: str | None = None) -> Any:
    return c.observe(f"s{i}", env(i, at, rcpt), parse(raw), verdict)


def test_near_duplicates_from_rotating_senders_form_one_campaign(
        make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    placed = [observe(c, i, lure(i), T0 + i) for i in range(10)]
    ids = {p.campaign_id for p in placed}
    assert len(ids) == 1
    assert [p.joined_by for p in placed[1:]] == ["content"] * 9
    assert [p.is_campaign for p in placed] == [False, False] + [True] * 8
    (campaign,) = c.recent()
    assert campaign.members == 10 and campaign.state == "active"
    assert campaign.first_seen == T0 and campaign.last_seen == T0 + 9
    members = c.members(campaign.id)
    assert {m["from"] for m in members} == {f"billing@vendor{i}.test" for i in range(10)}
    assert members[0]["recipients"] == ["person0.name0@example.com"]
    assert c.campaign_of("s3") == campaign.id


def test_unrelated_ham_does_not_cluster(make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    placed = [observe(c, i, ham(i), T0 + i) for i in range(len(HAM))]
    assert {p.joined_by for p in placed} == {"new"}
    assert c.recent() == []


def test_one_lure_among_ham_stays_alone(make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    for i in range(len(HAM)):
        observe(c, i, ham(i), T0 + i)
    assert observe(c, 50, lure(50), T0 + 60).joined_by == "new"


def test_a_shared_attachment_joins_different_texts(
        make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    observe(c, 1, ham(1).replace(b"\r\n\r\n", b"\r\nX: 1\r\n\r\n", 1), T0)
    first = c.observe("a1", env(1, T0), parse(lure(1, attachment=b"MZ-payload")), CLEAN)
    second = c.observe("a2", env(2, T0 + 1),
                       parse(ham(2, "see attached").replace(b"Subject", b"X-S", 1)), CLEAN)
    assert second is not None and first is not None and second.joined_by == "new"
    other = parse(lure(3, attachment=b"MZ-payload"))
    third = c.observe("a3", env(3, T0 + 2), other, CLEAN)
    assert third is not None and third.campaign_id == first.campaign_id


def test_a_different_attachment_does_not_join(make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns(similarity=0.9)
    first = c.observe("a1", env(1, T0), parse(ham(1, "here is the file")), CLEAN)
    raw = ham(2, "totally unrelated words about the garden party next month")
    second = c.observe("a2", env(2, T0 + 1), parse(raw), CLEAN)
    assert first is not None and second is not None
    assert second.campaign_id != first.campaign_id


STATEMENT = "please review the attached statement and confirm the payment details today"
MORE = " otherwise your access will be limited for security reasons"


def test_a_shared_link_domain_joins_with_similar_content(
        make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns(similarity=0.95, infra_similarity=0.3)
    a = c.observe("l1", env(1, T0), parse(ham(1, f"{STATEMENT} https://evil-login.com/a")), CLEAN)
    b = c.observe("l2", env(2, T0 + 1),
                  parse(ham(2, f"{STATEMENT}{MORE} https://x.evil-login.com/q")), CLEAN)
    assert a is not None and b is not None and b.campaign_id == a.campaign_id
    assert b.joined_by == "link"


def test_a_shared_link_domain_alone_or_an_ignored_one_does_not_join(
        make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns(similarity=0.95, infra_similarity=0.3)
    a = c.observe("l1", env(1, T0), parse(ham(1, "look https://evil-login.com/a")), CLEAN)
    b = c.observe("l2", env(2, T0 + 1),
                  parse(ham(2, "garden party next month https://x.evil-login.com/q")), CLEAN)
    assert a is not None and b is not None and b.campaign_id != a.campaign_id
    d = c.observe("l3", env(3, T0 + 2), parse(ham(3, f"{STATEMENT} https://google.com/a")),
                  CLEAN)
    e = c.observe("l4", env(4, T0 + 3), parse(ham(4, f"{STATEMENT}{MORE} https://google.com/b")),
                  CLEAN)
    assert d is not None and e is not None and e.campaign_id != d.campaign_id


def test_an_inline_image_is_no_strong_indicator(make_campaigns: Callable[..., Campaigns]) -> None:
    import base64
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
                           "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    c = make_campaigns()
    a = c.observe("g1", env(1, T0), parse(lure(1, attachment=png)), CLEAN)
    ind = message_indicators(c.settings, env(1, T0), parse(lure(1, attachment=png)))
    assert ind.strong == () and a is not None


def test_shared_infrastructure_joins_at_the_lower_similarity(
        make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns(similarity=0.95, infra_similarity=0.3)
    text = "please review the attached statement and confirm the payment details today"
    a = c.observe("i1", env(1, T0), parse(ham(1, text)), CLEAN)
    b_raw = ham(1, text + " otherwise your access will be limited for security reasons")
    b = c.observe("i2", env(1, T0 + 1), parse(b_raw), CLEAN)  # same mx1.test, same From
    assert a is not None and b is not None and b.campaign_id == a.campaign_id
    assert b.joined_by == "infra"
    other = c.observe("i3", env(7, T0 + 2), parse(ham(7, text + " or we will have to close "
                                                          "the account at the end of the week")),
                      CLEAN)
    assert other is not None and other.campaign_id != a.campaign_id  # no shared infra


def test_the_index_is_rebuilt_from_the_store(make_campaigns: Callable[..., Campaigns]) -> None:
    first = make_campaigns()
    for i in range(3):
        observe(first, i, lure(i), T0 + i)
    (campaign,) = first.recent()
    again = make_campaigns()
    assert len(again.index) == 0  # loaded on first use, not when built
    again.ready()
    assert len(again.index) == 3
    assert observe(again, 9, lure(9), T0 + 10).campaign_id == campaign.id
    assert again.get(campaign.id) is not None
    assert again.get(campaign.id).members == 4  # type: ignore[union-attr]


def test_the_window_bounds_the_index(make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns(window_hours=1.0)
    observe(c, 1, lure(1), T0)
    late = observe(c, 2, lure(2), T0 + 7200)
    assert late.joined_by == "new" and len(c.index) == 1
    near = observe(c, 3, lure(3), T0 + 7300)
    assert near.campaign_id == late.campaign_id


def test_observing_twice_counts_once(make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    assert observe(c, 1, lure(1), T0) is not None
    assert observe(c, 1, lure(1), T0) is None


def test_a_message_not_judged_yet_waits_for_its_verdict(
        make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    assert observe(c, 1, lure(1), T0, Verdict(Action.TEMPFAIL, 0.0, "dns down")) is None
    later = observe(c, 1, lure(1), T0)
    assert later is not None and later.joined_by == "new"


def test_message_indicators(make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    ind = message_indicators(c.settings, env(4, T0), parse(lure(4, attachment=b"x")))
    assert [s[:7] for s in ind.strong] == ["sha256:"]
    assert ind.infra == ("link:secure-4.pay4.test",  # .test: no public suffix
                         "from:vendor4.test", "env:mx4.test", "net:198.51.4.0/24")
    plain = message_indicators(c.settings, env(4, T0), parse(ham(4, "no links here")))
    assert plain.strong == () and not any(i.startswith("link:") for i in plain.infra)


def test_purge_keeps_campaigns_and_drops_loose_messages(
        make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    for i in range(3):
        observe(c, i, lure(i), T0 + i)
    observe(c, 7, ham(7), T0 + 5)
    c.purge(T0 + 2 * 86400)
    assert c.campaign_of("s1") is not None
    assert [m["spool_id"] for m in c.members(c.recent()[0].id)] == ["s0", "s1", "s2"]
    c.purge(T0 + 40 * 86400)
    assert c.recent() == []


# -- found bad ---------------------------------------------------------------------------------


class Alerts:
    """Records raise_alerts calls (the activity monitor's entry point)."""

    def __init__(self) -> None:
        self.found: list[Any] = []

    def raise_alerts(self, found: list[Any], now: float | None = None) -> list[Any]:
        self.found.extend(found)
        return []


def _journal(c: Campaigns, tmp_path: Path, spool_id: str, i: int, raw: bytes) -> None:
    assert c.journal is not None
    path = tmp_path / f"{spool_id}.eml"
    path.write_bytes(raw)
    c.journal.record(entry_from_message(spool_id, raw, env(i, T0 + i), CLEAN,
                                        [(f"person{i}.name{i}@example.com",
                                          maildir_location(path))]))


def test_by_default_a_later_bad_member_does_not_condemn_its_campaign(
        make_campaigns: Callable[..., Campaigns]) -> None:
    # A spoof of a real message (refused for DMARC) is a near-duplicate of it: it must not make
    # the real one's campaign bad (found by the spoofing e2e tests once campaigns existed).
    alerts = Alerts()
    c = make_campaigns(monitor=alerts, clawback=False)
    for i in range(4):
        observe(c, i, lure(i), T0 + i)
    observe(c, 4, lure(4), T0 + 4, PHISH)
    (campaign,) = c.recent()
    assert campaign.state == "active" and alerts.found == []


def test_a_later_bad_member_marks_the_campaign_bad_and_alerts(
        make_campaigns: Callable[..., Campaigns], make_settings: Callable[..., Settings],
        tmp_path: Path) -> None:
    journal = Journal(make_settings().store_url)
    alerts = Alerts()
    c = make_campaigns(journal=journal, monitor=alerts, clawback=False,
                       bad_actions=("quarantine", "reject"))
    try:
        for i in range(4):
            observe(c, i, lure(i), T0 + i)
            _journal(c, tmp_path, f"s{i}", i, lure(i))
        observe(c, 4, lure(4), T0 + 4, PHISH)
        (campaign,) = c.recent()
        assert campaign.state == "bad" and "s4" in campaign.bad_why
        (finding,) = alerts.found
        assert finding.kind == "campaign" and finding.subject == campaign.id
        assert finding.symbol == "ACT_CAMPAIGN_BAD"
        assert finding.evidence["delivered_members"] == 4
    finally:
        journal.close()


def test_a_bad_message_in_no_campaign_raises_nothing(
        make_campaigns: Callable[..., Campaigns]) -> None:
    alerts = Alerts()
    c = make_campaigns(monitor=alerts)
    observe(c, 1, lure(1), T0, PHISH)
    assert alerts.found == [] and c.recent() == []


def test_expand_gives_the_delivered_members_of_flagged_campaigns(
        make_campaigns: Callable[..., Campaigns], make_settings: Callable[..., Settings],
        tmp_path: Path) -> None:
    journal = Journal(make_settings().store_url)
    alerts = Alerts()
    c = make_campaigns(journal=journal, monitor=alerts)
    try:
        for i in range(5):
            observe(c, i, lure(i), T0 + i)
            _journal(c, tmp_path, f"s{i}", i, lure(i))
        observe(c, 20, ham(20), T0 + 20)
        _journal(c, tmp_path, "s20", 20, ham(20))
        flagged = journal.by_spool_ids(["s2"])
        more = c.expand(flagged, "threat feeds changed")
        assert sorted(h.spool_id for h in more) == ["s0", "s1", "s2", "s3", "s4"]
        assert c.recent()[0].state == "bad" and len(alerts.found) == 1
        assert c.expand(journal.by_spool_ids(["s20"]), "again") == []  # ham: no campaign
    finally:
        journal.close()


def test_expand_without_clawback_claws_back_nothing_more(
        make_campaigns: Callable[..., Campaigns], make_settings: Callable[..., Settings],
        tmp_path: Path) -> None:
    journal = Journal(make_settings().store_url)
    c = make_campaigns(journal=journal, clawback=False)
    try:
        for i in range(3):
            observe(c, i, lure(i), T0 + i)
            _journal(c, tmp_path, f"s{i}", i, lure(i))
        assert c.expand(journal.by_spool_ids(["s1"]), "feeds") == []
        assert c.recent()[0].state == "bad"
    finally:
        journal.close()




def test_a_new_member_of_a_bad_campaign_is_known_as_such(
        make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    for i in range(3):
        observe(c, i, lure(i), T0 + i)
    cid = c.recent()[0].id
    assert c.bad_campaign_of("s1") is None  # active: nothing to stop yet
    c.found_bad(cid, "reported", source="analyst")
    observe(c, 5, lure(5), T0 + 5)
    assert c.bad_campaign_of("s5") == cid
    observe(c, 6, ham(6), T0 + 6)
    assert c.bad_campaign_of("s6") is None  # not a member
    assert c.bad_campaign_of("never-seen") is None
    assert make_campaigns().bad_campaign_of("s5") == cid  # known again after a restart


def test_an_indicator_many_messages_share_is_read_from_its_newest(
        make_campaigns: Callable[..., Campaigns]) -> None:
    from mailward.activity.campaign_index import INDICATOR_CANDIDATES
    c = make_campaigns(min_members=1000)
    for i in range(INDICATOR_CANDIDATES + 20):
        c.observe(f"p{i}", env(i, T0 + i), parse(ham(i, f"{HAM[i % 8]} https://popular.com/{i}")),
                  CLEAN)
    assert c.index._newest("link:popular.com") == [
        f"p{i}" for i in range(INDICATOR_CANDIDATES + 19, 19, -1)]
    assert c.index._newest("link:unknown.com") == []


def test_a_big_campaign_is_matched_against_its_newest_members(
        make_campaigns: Callable[..., Campaigns], monkeypatch: pytest.MonkeyPatch) -> None:
    from mailward.activity import campaign_index
    monkeypatch.setattr(campaign_index, "CONTENT_CANDIDATES", 3)
    c = make_campaigns()
    for i in range(6):
        observe(c, i, lure(i), T0 + i)
    compared: list[int] = []
    similar = c.index.signatures.similar
    monkeypatch.setattr(c.index.signatures, "similar", lambda sig, keys, threshold: (
        compared.append(len(keys)) or similar(sig, keys, threshold)))
    newest = c.index.lsh.newest(c.index.members)
    assert sorted(newest) == ["s3", "s4", "s5"]
    placed = observe(c, 6, lure(6), T0 + 6)
    assert placed is not None and placed.joined_by == "content" and placed.size == 7
    assert compared[0] == 3  # six similar members, three compared


def test_a_small_campaign_is_matched_against_every_member(
        make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    for i in range(4):
        observe(c, i, lure(i), T0 + i)
    assert sorted(c.index.lsh.newest(c.index.members)) == [
        "s0", "s1", "s2", "s3"]


def test_a_member_with_known_indicators_only_counts_and_a_new_one_adds_its_own(
        make_campaigns: Callable[..., Campaigns]) -> None:
    """The campaign row's indicator list is rewritten only when a member brings a new one;
    the count and the times follow every member."""
    c = make_campaigns(min_members=2)
    for i in range(3):
        observe(c, i, lure(i), T0 + i)
    (campaign,) = c.recent()
    before = set(campaign.indicators)
    c.observe("again", env(1, T0 + 10), parse(lure(1)), CLEAN)  # s1's indicators
    (same,) = c.recent()
    assert same.members == 4 and same.last_seen == T0 + 10
    assert set(same.indicators) == before
    observe(c, 7, lure(7), T0 + 11)  # a new sender domain, link domain and network
    (grown,) = c.recent()
    assert grown.members == 5 and grown.last_seen == T0 + 11
    assert before < set(grown.indicators)
    assert {"env:mx7.test", "from:vendor7.test"} <= set(grown.indicators)
