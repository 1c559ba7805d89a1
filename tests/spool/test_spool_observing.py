"""The observation of a message (activity baselines and checks, campaign clustering) is made
just after its 250, not before it: the spool worker waits for every observation of the
messages accepted before (and of the message itself) before its checks, so a message is still
judged knowing them (an activity hold, a bad campaign); a crash between the 250 and the worker
loses no observation (the worker observes from the spooled bytes); a message refused at DATA
is observed before its reply."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailward.activity import ActivityMonitor
from mailward.activity.campaigns import Campaigns
from mailward.config.settings import Settings
from mailward.engine.pipeline import Engine, ScanOutcome
from mailward.frontends.smtp.handler import GatewayHandler
from mailward.model import Action, Envelope, Finding, Verdict
from mailward.response.lockdown import Level
from mailward.spool.processor import Processor
from mailward.spool.queue import Spool
from mailward.store import Store, open_store

ALICE = "alice@example.com"
PHISH = Verdict(Action.QUARANTINE, 14.0, "phish", (Finding("URL_CRED_FORM", "x", score=8.0),))
REJECT = Verdict(Action.REJECT, 20.0, "phish", (Finding("URL_CRED_FORM", "x", score=8.0),))
#: Seconds a test gives a worker that must wait to (wrongly) finish anyway.
GRACE = 0.3


def raw(n: int) -> bytes:
    return (f"From: Alice <{ALICE}>\r\nTo: bob@example.com\r\nSubject: Notes {n}\r\n"
            f"Message-ID: <n{n}@example.com>\r\n\r\nThe notes of meeting {n}, see you "
            f"on Friday at the usual place.\r\n").encode()


class ScriptedEngine:
    """The real engine, with the verdict replaced for the messages named in ``verdicts``."""

    def __init__(self, settings: Settings) -> None:
        self.engine = Engine(settings)
        self.verdicts: dict[bytes, Verdict] = {}

    async def scan(self, message: bytes, envelope: Envelope | None = None) -> ScanOutcome:
        outcome = await self.engine.scan(message, envelope)
        verdict = self.verdicts.get(message)
        return outcome if verdict is None else dataclasses.replace(outcome, verdict=verdict)


@dataclass
class Rig:
    settings: Settings
    spool: Spool
    store: Store
    monitor: ActivityMonitor
    campaigns: Campaigns
    engine: ScriptedEngine
    processor: Processor
    handler: GatewayHandler

    async def send(self, message: bytes, verdict: Verdict | None = None) -> tuple[str, str]:
        """DATA from an internal client; (reply, spool id)."""
        if verdict is not None:
            self.engine.verdicts[message] = verdict
        session = types.SimpleNamespace(peer=("10.0.0.5", 40000), host_name="pc.example.com",
                                        authenticated=False, auth_data=None, ssl=None)
        envelope = types.SimpleNamespace(mail_from=ALICE, rcpt_tos=["bob@example.com"],
                                         original_content=message)
        reply = await self.handler.handle_DATA(None, session, envelope)
        return reply, reply.rpartition(" ")[2]

    def processor_after_restart(self, **kwargs: Any) -> Processor:
        return Processor(self.settings, Engine(self.settings), self.spool, self.store,
                         activity=self.monitor, campaigns=self.campaigns, **kwargs)

    def counted(self) -> int:
        return sum(h["messages"] for h in self.monitor.base.hourly(ALICE))

    def clustered(self, entry_id: str) -> bool:
        return entry_id in self.campaigns.index.members


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    settings = Settings.model_validate({
        "data_dir": str(tmp_path / "data"), "engine": {"disabled": ["content"]},
        "dns": {"enabled": False},
        "organisation": {"accepted_domains": ["example.com"],
                         "internal_networks": ["10.0.0.0/8"]},
        "activity": {"responses": {"account": {"hold_outbound": True}}},
    })
    settings.data_dir.mkdir()
    store = open_store(settings.store_url)
    monitor = ActivityMonitor(settings, store)
    campaigns = Campaigns(settings, store, None, monitor)
    spool = Spool(settings.spool_dir)
    engine = ScriptedEngine(settings)
    processor = Processor(settings, Engine(settings), spool, store, activity=monitor,
                          campaigns=campaigns)
    handler = GatewayHandler(settings, spool, engine, processor,  # type: ignore[arg-type]
                             activity=monitor)
    yield Rig(settings, spool, store, monitor, campaigns, engine, processor, handler)
    campaigns.close()
    monitor.close()
    store.close()


def blocked_until(gate: threading.Event, real: Any, only: str | None = None) -> Any:
    def observe(entry_id: str, *args: Any, **kwargs: Any) -> Any:
        if only is None or entry_id == only:
            assert gate.wait(10), "the test never opened the gate"
        return real(entry_id, *args, **kwargs)
    return observe


def test_the_250_comes_before_the_observation_and_the_worker_waits_for_it(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    monkeypatch.setattr(rig.campaigns, "observe_many", blocked_until(gate, rig.campaigns.observe_many))

    async def scenario() -> None:
        reply, entry = await rig.send(raw(1))
        assert reply.startswith("250 ") and not rig.clustered(entry)
        assert rig.spool.state(entry).observe  # marked: to be observed
        worker = asyncio.create_task(rig.processor.process(entry))
        done, _ = await asyncio.wait({worker}, timeout=GRACE)
        assert not done  # it waits for the message's observation
        gate.set()
        outcome = await worker
        assert outcome is not None and outcome.action == "deliver"
        assert rig.clustered(entry) and rig.counted() == 1

    asyncio.run(scenario())


def test_a_message_is_judged_after_the_observation_of_one_accepted_before_it(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first message's observation opens an alert that holds the account's mail: the
    second, accepted after it, is held even when its worker comes first."""

    async def scenario() -> None:
        gate = threading.Event()
        reply_phish, phish = await rig.send(raw(1), PHISH)  # its mark first, then the observing
        monkeypatch.setattr(rig.monitor, "observe_message",
                            blocked_until(gate, rig.monitor.observe_message, only=phish))
        assert reply_phish.startswith("250 ")
        reply, entry = await rig.send(raw(2))
        assert reply.startswith("250 ")
        worker = asyncio.create_task(rig.processor.process(entry))
        done, _ = await asyncio.wait({worker}, timeout=GRACE)
        assert not done  # waiting for the first message's observation
        gate.set()
        outcome = await worker
        assert outcome is not None and outcome.action == "hold"

    asyncio.run(scenario())


def test_a_crash_between_the_250_and_the_worker_loses_no_observation(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rig.processor.later, "start", lambda *args: None)  # died at once

    async def scenario() -> None:
        _, delivered = await rig.send(raw(1))
        _, held = await rig.send(raw(2))
        assert not rig.clustered(delivered) and rig.counted() == 0
        restarted = rig.processor_after_restart()
        outcome = await restarted.process(delivered)
        assert outcome is not None and outcome.action == "deliver"
        assert rig.clustered(delivered) and rig.counted() == 1
        locked = rig.processor_after_restart(lockdown=lambda: Level.HOLD_ALL)
        outcome = await locked.process(held)
        assert outcome is not None and outcome.action == "hold"
        assert rig.clustered(held) and rig.counted() == 2
        assert rig.spool.state(held).observe == ""  # saved with the hold: observed once

    asyncio.run(scenario())


def test_a_refused_message_is_observed_before_its_reply(rig: Rig) -> None:
    reply, _ = asyncio.run(rig.send(raw(1), REJECT))
    assert reply.startswith("550 ")
    assert rig.counted() == 1 and len(rig.campaigns.index.members) == 1
    assert rig.spool.ids() == []
    assert rig.monitor.holding(Envelope(ALICE, (), "10.0.0.5", internal=True)) is not None


def test_a_client_gone_before_its_250_loses_no_observation(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The session is cancelled while the verdict and the message-log row are written: the
    message stays spooled with its verdict, and the worker observes it itself."""
    gate = threading.Event()
    real = rig.processor.record

    def slow_record(*args: Any, **kwargs: Any) -> Any:
        assert gate.wait(10), "the test never opened the gate"
        return real(*args, **kwargs)

    monkeypatch.setattr(rig.processor, "record", slow_record)

    async def scenario() -> None:
        session = asyncio.create_task(rig.send(raw(1)))
        deadline = time.monotonic() + 10
        while not rig.spool.ids() or not rig.spool.state(rig.spool.ids()[0]).observe:
            assert time.monotonic() < deadline, "the verdict was never saved"
            await asyncio.sleep(0.01)  # until the verdict (with its mark) is saved
        session.cancel()
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await session
        [entry] = rig.spool.ids()
        await rig.processor.later.made()
        assert not rig.clustered(entry) and rig.counted() == 0
        outcome = await rig.processor.process(entry)
        assert outcome is not None and outcome.action == "deliver"
        assert rig.clustered(entry) and rig.counted() == 1

    asyncio.run(scenario())
