"""The journal entry of a delivered message reuses the parse of the scan that decided it
(kept by Processor.record), and parses the bytes itself when that scan ran elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailward.config.settings import EngineSettings, Settings
from mailward.engine.pipeline import Engine
from mailward.model import Action, Envelope, Verdict
from mailward.response.journal import Journal
from mailward.spool import completing as completing_module
from mailward.spool.processor import Processor, verdict_to_state
from mailward.spool.queue import Spool, SpoolState
from mailward.store import open_store

RAW = (b"From: Bob <bob@partner.example.net>\r\nTo: alice@example.com\r\nSubject: notes\r\n"
       b"Message-ID: <n1@partner.example.net>\r\n\r\nSee https://docs.partner.example.net/n1\r\n")
ENVELOPE = Envelope(mail_from="bob@partner.example.net", rcpt_tos=("alice@example.com",),
                    received_at=1_700_000_000.0)


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Processor, list[Any]]]:
    settings = Settings(data_dir=tmp_path, engine=EngineSettings(disabled=("content",)))
    store = open_store(settings.store_url)
    journal = Journal(settings.store_url)
    processor = Processor(settings, Engine(settings), Spool(settings.spool_dir), store,
                          journal=journal)
    seen: list[Any] = []
    real = completing_module.entry_from_message

    def spy(*args: Any) -> Any:
        seen.append(args[5])  # the ParsedMessage handed over, or None
        return real(*args)

    monkeypatch.setattr(completing_module, "entry_from_message", spy)
    yield processor, seen
    journal.close()
    store.close()


def test_a_message_scanned_here_is_journaled_with_its_scan_parse(
    rig: tuple[Processor, list[Any]],
) -> None:
    processor, seen = rig
    entry_id = processor.spool.put(ENVELOPE, RAW)
    outcome = asyncio.run(processor.process(entry_id, now=ENVELOPE.received_at + 1))
    assert outcome is not None and outcome.finished
    [parsed] = seen
    assert parsed is not None and parsed.raw == RAW
    assert parsed.subject == "notes"
    assert processor._parsed == {}  # used once, then dropped


def test_a_message_decided_elsewhere_is_parsed_for_its_journal_entry(
    rig: tuple[Processor, list[Any]],
) -> None:
    processor, seen = rig
    verdict = Verdict(Action.DELIVER, 0.0, "decided before a restart")
    entry_id = processor.spool.put(ENVELOPE, RAW,
                                   state=SpoolState(verdict=verdict_to_state(verdict)))
    outcome = asyncio.run(processor.process(entry_id, now=ENVELOPE.received_at + 1))
    assert outcome is not None and outcome.finished
    assert seen == [None]
    assert processor.journal is not None
    assert [h.spool_id for h in processor.journal.by_spool_ids([entry_id])] == [entry_id]
