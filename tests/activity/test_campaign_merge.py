"""Campaign merging: a message resembling members of two campaigns makes them one (the oldest
id kept, the other leading to it), on SQLite and PostgreSQL (MAILWARD_TEST_PG_URL); a good
campaign merged with a bad one turns bad and its delivered members are clawed back."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mailward.activity.campaigns import Campaigns, Observed, Placement
from mailward.config.settings import LimitSettings, Settings
from mailward.delivery.maildir import MaildirDelivery, maildir_for, message_name
from mailward.mime import parse_message
from mailward.model import Action, Envelope, Verdict
from mailward.response.indicators import entry_from_message, maildir_location
from mailward.response.journal import Journal
from mailward.store import open_store

T0 = 1_800_000_000.0
CLEAN = Verdict(Action.DELIVER, 0.0, "clean")
TEXTS = [
    "The quarterly report is attached; the figures for March are on page two.",
    "Lunch on Friday at the usual place? Bring the slides from the offsite.",
    "The build server will be down tonight for maintenance between nine and ten.",
    "Thanks for the review, I merged your changes into the release branch.",
    "Reminder: the fire drill is tomorrow morning, please leave by the east stairs.",
    "Can you send me the contract draft before the meeting with the lawyers?",
    "Our team offsite moves to the lake house; travel details follow next week.",
    "The new coffee machine arrived, instructions are pinned to the kitchen wall.",
]


def message(i: int, *payloads: bytes) -> bytes:
    """Its own text (no content match), with the given file attachments."""
    parts = [f"--b\r\nContent-Type: text/plain\r\n\r\n{TEXTS[i % len(TEXTS)]} ({i})\r\n"]
    parts += [f"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: "
              f"attachment; filename=f{n}.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
              f"{base64.b64encode(p).decode()}\r\n" for n, p in enumerate(payloads)]
    return (f"From: Sender <s{i}@host{i}.test>\r\nTo: user{i}@example.com\r\n"
            f"Subject: file {i}\r\nMessage-ID: <f{i}@host{i}.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + "".join(parts)
            + "--b--\r\n").encode()


def env(i: int) -> Envelope:
    return Envelope(mail_from=f"b@mx{i}.test", rcpt_tos=(f"user{i}@example.com",),
                    peer_ip=f"198.51.{i}.7", received_at=T0 + i)


class Alerts:
    """Records the findings the campaigns raise (the activity monitor's entry point)."""

    def __init__(self) -> None:
        self.found: list[Any] = []

    def raise_alerts(self, found: list[Any], now: float | None = None) -> list[Any]:
        self.found.extend(found)
        return []


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


def observe(c: Campaigns, i: int, *payloads: bytes) -> Placement:
    placed = c.observe(f"s{i}", env(i), parse_message(message(i, *payloads), LimitSettings()),
                       CLEAN)
    assert placed is not None
    return placed


def two_campaigns(c: Campaigns) -> tuple[str, str]:
    """Campaign A (s1..s3, file X) and, later, campaign B (s4..s6, file Y)."""
    a = [observe(c, i, b"file X") for i in (1, 2, 3)]
    b = [observe(c, i, b"file Y") for i in (4, 5, 6)]
    assert a[-1].is_campaign and b[-1].is_campaign
    assert a[-1].campaign_id != b[-1].campaign_id
    assert all(p.merged == () for p in a + b)
    return a[0].campaign_id, b[0].campaign_id


def test_a_message_like_two_campaigns_merges_them_into_the_oldest(
        make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    old, new = two_campaigns(c)
    placed = observe(c, 7, b"file Y", b"file X")
    assert placed.campaign_id == old and placed.merged == (new,)
    assert placed.size == 7 and placed.joined_by == "attachment"
    (campaign,) = c.recent()
    assert campaign.id == old and campaign.members == 7 and campaign.state == "active"
    assert campaign.first_seen == T0 + 1 and campaign.last_seen == T0 + 7
    assert c.get(old).merged == (new,)  # type: ignore[union-attr]
    assert c.get(new) is None and c.merged_into(new) == old and c.merged_into(old) is None
    members = c.members(old)
    assert [m["spool_id"] for m in members] == [f"s{i}" for i in range(1, 8)]
    assert {r for m in members for r in m["recipients"]} == {
        f"user{i}@example.com" for i in range(1, 8)}
    assert c.campaign_of("s5") == old
    assert any(k.startswith("sha256:") for k in campaign.indicators)
    later = observe(c, 8, b"file Y")  # a member of the merged part's kind joins the kept id
    assert later.campaign_id == old and later.merged == () and later.size == 8
    audit = [(a.action, a.object_id) for a in c.store.audit_log(limit=10)]
    assert ("campaign merged", old) in audit


def test_a_merge_survives_a_restart(make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    old, new = two_campaigns(c)
    assert observe(c, 7, b"file X", b"file Y").merged == (new,)
    again = make_campaigns()
    assert observe(again, 9, b"file Y").campaign_id == old
    assert again.get(old).members == 8  # type: ignore[union-attr]


def test_no_merge_when_turned_off(make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns(merge=False)
    old, new = two_campaigns(c)
    placed = observe(c, 7, b"file Y", b"file X")
    assert placed.merged == () and placed.campaign_id in (old, new)
    assert {x.id for x in c.recent()} == {old, new}


def test_a_message_like_one_campaign_merges_nothing(
        make_campaigns: Callable[..., Campaigns]) -> None:
    c = make_campaigns()
    old, new = two_campaigns(c)
    placed = observe(c, 7, b"file X", b"file Z")
    assert placed.campaign_id == old and placed.merged == ()
    assert {x.id for x in c.recent()} == {old, new}


def test_a_good_campaign_merged_with_a_bad_one_turns_bad_and_is_clawed_back(
        make_campaigns: Callable[..., Campaigns], make_settings: Callable[..., Settings]) -> None:
    journal = Journal(make_settings().store_url)
    alerts = Alerts()
    c = make_campaigns(journal=journal, monitor=alerts)
    try:
        old, new = two_campaigns(c)
        maildir = MaildirDelivery(c.settings.maildir_root)
        files = {}
        for i in range(1, 7):
            raw, rcpt = message(i, b"file X" if i < 4 else b"file Y"), f"user{i}@example.com"
            maildir.deliver(f"s{i}", rcpt, raw)
            files[i] = (maildir_for(c.settings.maildir_root, rcpt) / "new"
                        / message_name(f"s{i}", rcpt))
            journal.record(entry_from_message(f"s{i}", raw, env(i), CLEAN, [
                (rcpt, maildir_location(files[i]))]))
        c.found_bad(new, "reported", source="analyst")  # the younger one: s4..s6 clawed back
        assert [files[i].exists() for i in range(1, 7)] == [True] * 3 + [False] * 3
        placed = observe(c, 7, b"file X", b"file Y")
        assert placed.campaign_id == old and placed.merged == (new,)
        merged = c.get(old)
        assert merged is not None and merged.state == "bad" and "reported" in merged.bad_why
        assert not any(files[i].exists() for i in range(1, 4))  # the good part clawed back
        last = alerts.found[-1]
        assert last.subject == old and last.evidence["source"] == "merge"
        assert last.evidence["delivered_members"] == 3  # s1..s3, not s4..s6 again
        assert c.bad_campaign_of("s7") == old
        assert make_campaigns().bad_campaign_of("s2") == old  # known after a restart too
    finally:
        journal.close()


def test_a_node_that_still_knows_a_merged_campaign_stores_under_the_kept_one(
        make_campaigns: Callable[..., Campaigns]) -> None:
    a = make_campaigns()
    old, new = two_campaigns(a)
    b = make_campaigns()  # another node: its index loaded before a merges
    b.ready()
    assert observe(a, 7, b"file Y", b"file X").merged == (new,)
    later = observe(b, 8, b"file Y")  # b knows s4..s6 under the merged id
    assert later.campaign_id == old and later.merged == ()
    assert b.campaign_of("s8") == old and b.member_ids(new) == []
    assert a.get(old).members == 8  # type: ignore[union-attr]
    assert observe(b, 9, b"file Y").campaign_id == old  # b's index follows the merge
    assert b.index.root(new) == old


def test_a_node_that_still_knows_a_merged_small_cluster_stores_under_the_kept_one(
        make_campaigns: Callable[..., Campaigns]) -> None:
    a = make_campaigns()
    kept = [observe(a, i, b"file Y") for i in (1, 2, 3)][-1].campaign_id
    small = [observe(a, i, b"file X") for i in (4, 5)][-1].campaign_id  # not a campaign yet
    b = make_campaigns()
    b.ready()
    assert observe(a, 7, b"file Y", b"file X").merged == (small,)
    assert a.merged_into(small) == kept
    assert observe(b, 8, b"file X").campaign_id == kept
    assert a.get(kept).members == 7 and a.member_ids(small) == []  # type: ignore[union-attr]


def test_a_node_that_still_knows_both_parts_of_a_merge_does_not_merge_again(
        make_campaigns: Callable[..., Campaigns]) -> None:
    a = make_campaigns()
    old, new = two_campaigns(a)
    b = make_campaigns()
    b.ready()
    assert observe(a, 7, b"file Y", b"file X").merged == (new,)
    placed = observe(b, 8, b"file X", b"file Y")  # like both parts b still tells apart
    assert placed.campaign_id == old and placed.merged == ()
    assert a.get(old).members == 8 and a.get(old).merged == (new,)  # type: ignore[union-attr]


def test_a_campaign_found_bad_elsewhere_is_known_at_its_next_member(
        make_campaigns: Callable[..., Campaigns]) -> None:
    a = make_campaigns()
    old, new = two_campaigns(a)
    gateway = make_campaigns()  # the running gateway: its bad set loaded at start
    gateway.ready()
    make_campaigns().found_bad(new, "reported", source="analyst")  # `mailward campaigns bad`
    assert observe(gateway, 8, b"file Y").campaign_id == new
    assert gateway.bad_campaign_of("s8") == new, "quarantined, not delivered"
    assert observe(gateway, 9, b"file X").campaign_id == old
    assert gateway.bad_campaign_of("s9") is None


def test_a_running_gateway_takes_up_bad_campaigns_and_merges_at_its_refresh(
        make_campaigns: Callable[..., Campaigns]) -> None:
    a = make_campaigns()
    old, new = two_campaigns(a)
    gateway = make_campaigns()  # its bad set and index loaded at start
    gateway.ready()
    assert observe(a, 7, b"file Y", b"file X").merged == (new,)  # another node merges
    make_campaigns().found_bad(old, "reported", source="analyst")  # `mailward campaigns bad`
    assert gateway.bad_campaign_of("s5") is None and gateway.index.root(new) == new
    gateway.refresh(now=T0 + 10)
    assert gateway.index.root(new) == old
    assert gateway.bad_campaign_of("s5") == old and gateway.bad_campaign_of("s2") == old


def test_a_refresh_before_the_index_is_loaded_reads_nothing(
        make_campaigns: Callable[..., Campaigns]) -> None:
    a = make_campaigns()
    old, _ = two_campaigns(a)
    a.found_bad(old, "reported", source="analyst")
    cold = make_campaigns()
    cold.refresh(now=T0 + 10)
    assert cold.index.alias == {} and not cold._loaded
    assert cold.bad_campaign_of("s2") == old  # loaded on first use, bad set with it


def test_a_cluster_notice_is_taken_up_at_once(make_campaigns: Callable[..., Campaigns]) -> None:
    a = make_campaigns()
    old, new = two_campaigns(a)
    b = make_campaigns()
    b.ready()
    b.follow_notice({"level": "hold-all"})  # not about campaigns: nothing changes
    assert b.index.root(new) == new and b.bad_campaign_of("s5") is None
    b.follow_notice({"into": old, "merged": [new], "node": "node-a"})
    assert b.index.root(new) == old and b.index.sizes[old] == 6
    b.follow_notice({"bad": old, "node": "node-a"})
    assert b.bad_campaign_of("s5") == old


def test_observing_a_batch_places_and_stores_as_one_after_the_other(
        make_campaigns: Callable[..., Campaigns]) -> None:
    """Two campaigns, a message merging them and a later member in one ``observe_many``: the
    placements and rows of :func:`test_a_message_like_two_campaigns_merges_them_into_the_oldest`;
    the members before the merge share one transaction, the merge and the rest another."""
    c = make_campaigns()
    files = {1: [b"file X"], 2: [b"file X"], 3: [b"file X"], 4: [b"file Y"], 5: [b"file Y"],
             6: [b"file Y"], 7: [b"file Y", b"file X"], 8: [b"file Y"]}
    batch = [Observed(f"s{i}", env(i), parse_message(message(i, *p), LimitSettings()), CLEAN)
             for i, p in files.items()]
    placed = c.observe_many(batch)
    assert all(p is not None for p in placed)
    got = [p for p in placed if p is not None]
    old, new = got[0].campaign_id, got[3].campaign_id
    assert old != new
    assert [(p.size, p.is_campaign, p.merged) for p in got[:6]] == [
        (1, False, ()), (2, False, ()), (3, True, ()), (1, False, ()), (2, False, ()),
        (3, True, ())]
    assert got[6].campaign_id == old and got[6].merged == (new,) and got[6].size == 7
    assert got[7].campaign_id == old and got[7].merged == () and got[7].size == 8
    (campaign,) = c.recent()
    assert campaign.id == old and campaign.members == 8
    assert campaign.first_seen == T0 + 1 and campaign.last_seen == T0 + 8
    assert c.merged_into(new) == old
    assert (c._writes.batches, c._writes.writes) == (2, 8)
    assert c.observe_many(batch[:2]) == [None, None]  # observed before: counted once
    assert c.get(old).members == 8  # type: ignore[union-attr]
