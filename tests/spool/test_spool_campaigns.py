"""The processor and the campaigns: each scanned message is clustered; a new member of a
campaign found bad is quarantined instead of delivered (a release is delivered as asked); a
failing campaign step never holds up mail."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailward.activity.campaigns import Campaigns
from mailward.config.settings import Settings
from mailward.delivery.maildir import iter_messages
from mailward.engine.pipeline import Engine
from mailward.model import Envelope
from mailward.spool.processor import Processor
from mailward.spool.queue import Spool
from mailward.store import Store, open_store

T0 = 1_717_000_000.0


def lure(n: int) -> bytes:
    return (f"From: Desk <desk@help{n}.example.net>\r\nTo: user{n}@example.com\r\n"
            f"Subject: Storage {n}0% full\r\nMessage-ID: <s{n}@help{n}.example.net>\r\n\r\n"
            f"Hello user{n}, your storage is almost full. Archive your old files on the "
            f"portal before Friday so that new mail keeps arriving in your inbox.\r\n").encode()


def outside(n: int) -> Envelope:
    return Envelope(f"b@help{n}.example.net", (f"user{n}@example.com",), "198.51.100.4",
                    received_at=T0 + n)


@dataclass
class Rig:
    settings: Settings
    spool: Spool
    store: Store
    campaigns: Campaigns
    processor: Processor

    def send(self, n: int, **flags: object) -> tuple[str, str]:
        entry = self.spool.put(outside(n), lure(n), flags=dict(flags) or None)
        outcome = asyncio.run(self.processor.process(entry, now=T0 + 100))
        assert outcome is not None
        return entry, outcome.action

    def delivered(self, n: int) -> int:
        return len(list(iter_messages(self.settings.maildir_root, f"user{n}@example.com")))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    settings = Settings.model_validate({
        "data_dir": str(tmp_path / "data"), "engine": {"disabled": ["content"]},
        "dns": {"enabled": False}, "organisation": {"accepted_domains": ["example.com"]},
    })
    settings.data_dir.mkdir()
    store = open_store(settings.store_url)
    campaigns = Campaigns(settings, store)
    spool = Spool(settings.spool_dir)
    processor = Processor(settings, Engine(settings), spool, store, campaigns=campaigns)
    yield Rig(settings, spool, store, campaigns, processor)
    campaigns.close()
    store.close()


def test_scanned_mail_is_clustered_and_delivered(rig: Rig) -> None:
    for n in range(3):
        assert rig.send(n)[1] == "deliver"
    (campaign,) = rig.campaigns.recent()
    assert campaign.members == 3 and rig.delivered(2) == 1


def test_a_new_member_of_a_bad_campaign_is_quarantined(rig: Rig) -> None:
    for n in range(3):
        rig.send(n)
    cid = rig.campaigns.recent()[0].id
    rig.campaigns.found_bad(cid, "reported", source="analyst")
    entry, action = rig.send(3)
    assert action == "quarantine" and rig.delivered(3) == 0
    held = rig.store.get_quarantine(entry)
    assert held is not None and held.reason == f"member of campaign {cid}, found bad"


def test_a_release_of_a_bad_campaigns_member_is_delivered(rig: Rig) -> None:
    for n in range(3):
        rig.send(n)
    rig.campaigns.found_bad(rig.campaigns.recent()[0].id, "reported", source="analyst")
    assert rig.send(4, skip_scan=True, why="released")[1] == "deliver"
    assert rig.delivered(4) == 1


def test_a_failing_campaign_step_never_holds_up_mail(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("campaign store down")

    monkeypatch.setattr(rig.campaigns, "observe_many", broken)
    assert rig.send(5)[1] == "deliver" and rig.delivered(5) == 1
