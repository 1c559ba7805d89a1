"""The processor and the activity monitor: an alert's hold_outbound holds the account's
outbound mail in the quarantine (nothing lost), releases are not held again, other accounts
flow, and a failing monitor never holds up mail."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailward.activity import ActivityMonitor
from mailward.config.settings import Settings
from mailward.delivery.maildir import iter_messages
from mailward.engine.pipeline import Engine
from mailward.model import Action, Envelope, Finding, Verdict
from mailward.spool.processor import Processor, verdict_to_state
from mailward.spool.queue import Spool, SpoolState
from mailward.store import Store, open_store

T0 = 1_717_000_000.0
ALICE = "alice@example.com"
BOB = "bob@example.com"
PHISH = Verdict(Action.QUARANTINE, 14.0, "phish", (Finding("URL_CRED_FORM", "x", score=8.0),))


def raw(n: int) -> bytes:
    return (f"From: {ALICE}\r\nTo: {BOB}\r\nSubject: Notes {n}\r\n"
            f"Message-ID: <n{n}@example.com>\r\n\r\nsee you.\r\n").encode()


def inside(sender: str = ALICE) -> Envelope:
    return Envelope(sender, (BOB,), "10.0.0.5", received_at=T0, internal=True)


@dataclass
class Rig:
    settings: Settings
    spool: Spool
    store: Store
    monitor: ActivityMonitor
    processor: Processor

    def run(self, entry_id: str) -> str:
        outcome = asyncio.run(self.processor.process(entry_id, now=T0 + 10))
        assert outcome is not None
        return outcome.action


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    settings = Settings.model_validate({
        "data_dir": str(tmp_path / "data"), "engine": {"disabled": ["content"]},
        "organisation": {"internal_networks": ["10.0.0.0/8"]},
        "activity": {"responses": {"account": {"hold_outbound": True}}},
    })
    settings.data_dir.mkdir()
    store = open_store(settings.store_url)
    monitor = ActivityMonitor(settings, store)
    spool = Spool(settings.spool_dir)
    processor = Processor(settings, Engine(settings), spool, store, activity=monitor)
    yield Rig(settings, spool, store, monitor, processor)
    monitor.close()
    store.close()


def _open_alert(rig: Rig) -> int:
    [change] = rig.monitor.observe_message("lure-1", inside(), PHISH)
    return change.alert.id


def test_held_account_mail_goes_to_quarantine_as_hold(rig: Rig) -> None:
    alert_id = _open_alert(rig)
    entry = rig.spool.put(inside(), raw(1))
    assert rig.run(entry) == "hold"
    assert list(iter_messages(rig.settings.maildir_root, BOB)) == []
    held = rig.store.get_quarantine(entry)
    assert held is not None and held.action == "hold" and held.status == "held"
    assert f"alert {alert_id}" in held.reason
    assert rig.monitor.held_messages(alert_id) == [entry]
    assert rig.spool.ids() == []  # out of the spool, into the quarantine: nothing lost


def test_a_disarm_verdict_is_held_and_remembered_as_disarm(rig: Rig) -> None:
    alert_id = _open_alert(rig)
    entry = rig.spool.put(inside(), raw(2))
    disarm = Verdict(Action.DISARM, 3.0, "DOC_MACRO forces disarm")
    rig.spool.save_state(entry, SpoolState(verdict=verdict_to_state(disarm)))
    assert rig.run(entry) == "hold"
    assert rig.monitor._holds(alert_id) == {entry: "disarm"}


def test_other_accounts_and_releases_are_not_held(rig: Rig) -> None:
    _open_alert(rig)
    other = rig.spool.put(inside("carol@example.com"), raw(3))
    released = rig.spool.put(inside(), raw(4), flags={"skip_scan": True, "why": "released"})
    assert rig.run(other) == "deliver"
    assert rig.run(released) == "deliver"
    assert len(list(iter_messages(rig.settings.maildir_root, BOB))) == 2


def test_without_an_alert_mail_is_delivered_and_counted(rig: Rig) -> None:
    entry = rig.spool.put(inside(), raw(5))
    assert rig.run(entry) == "deliver"
    assert rig.monitor.base.hourly(ALICE)[0]["messages"] == 1


def test_a_failing_monitor_never_holds_up_mail(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("activity store down")

    monkeypatch.setattr(rig.monitor, "observe_message", broken)
    entry = rig.spool.put(inside(), raw(6))
    assert rig.run(entry) == "deliver"
