"""The processor's first Maildir delivery of a new entry lists no ``cur/``; every delivery an
earlier attempt may have made (a retry, an entry taken up again after a crash or by another
process) finds the copy the reader moved to ``cur/`` and writes none twice."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailward.config.settings import Settings
from mailward.delivery.maildir import iter_messages, maildir_for
from mailward.engine.pipeline import Engine
from mailward.model import Action, Envelope, Verdict
from mailward.spool.processor import Outcome, Processor, verdict_to_state
from mailward.spool.queue import Spool, SpoolState
from mailward.store import Store, open_store

T0 = 1_717_000_000.0
ALICE = "alice@example.com"
RAW = (b"From: Bob <bob@partner.example.net>\r\nTo: alice@example.com\r\nSubject: Notes\r\n"
       b"Message-ID: <notes@partner.example.net>\r\n\r\nHello Alice.\r\n")
DELIVER = SpoolState(verdict=verdict_to_state(Verdict(Action.DELIVER, 0.0, "ok")))


class Crash(Exception):
    """Stands in for the process dying between the delivery and the entry's removal."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    result = Settings.model_validate({"data_dir": str(tmp_path / "data"),
                                      "engine": {"disabled": ["content"]}})
    result.data_dir.mkdir()
    return result


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    result = open_store(settings.store_url)
    yield result
    result.close()


@pytest.fixture
def start(settings: Settings, store: Store) -> Callable[[], Processor]:
    """A gateway process starting: its own Spool (and memory) on the shared directories."""
    engine = Engine(settings)
    return lambda: Processor(settings, engine, Spool(settings.spool_dir), store)


@pytest.fixture
def cur_listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ``cur/`` directories os.scandir is asked for (every call still made)."""
    listed: list[str] = []
    real = os.scandir

    def spy(path: Any = ".") -> Any:
        if os.path.basename(os.fspath(path)) == "cur":
            listed.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", spy)
    return listed


def spool_new(processor: Processor, rcpts: tuple[str, ...] = (ALICE,)) -> str:
    """As the SMTP front end does: the message under a new id, then its verdict."""
    entry_id = processor.spool.put(Envelope("bob@partner.example.net", rcpts, received_at=T0), RAW)
    processor.spool.save_state(entry_id, DELIVER)
    return entry_id


def run(processor: Processor, entry_id: str) -> Outcome | None:
    return asyncio.run(processor.process(entry_id, now=T0 + 10))


def crash_before_finish(processor: Processor, entry_id: str) -> None:
    """Deliver, then die before the entry is removed (it stays, as after a real crash)."""

    def die(_entry_id: str) -> None:
        raise Crash

    spool = processor.spool
    spool.finish = die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        run(processor, entry_id)
    del spool.finish


def read_it(settings: Settings) -> Path:
    """The reader's mail program: the one copy in new/ moves to cur/ with flags."""
    (copy,) = iter_messages(settings.maildir_root, ALICE)
    moved = copy.parent.parent / "cur" / f"{copy.name}:2,S"
    os.rename(copy, moved)
    return moved


def test_first_attempt_of_a_new_entry_lists_no_cur_and_writes_no_state(
    settings: Settings, start: Callable[[], Processor], cur_listings: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    processor = start()
    entry_id = spool_new(processor)
    cur = maildir_for(settings.maildir_root, ALICE) / "cur"
    cur.mkdir(parents=True)
    for n in range(3):  # mail read before
        (cur / f"old{n}:2,S").write_bytes(b"x")
    saves: list[str] = []
    real_save = processor.spool.save_state
    monkeypatch.setattr(processor.spool, "save_state",
                        lambda i, s: (saves.append(i), real_save(i, s))[1])
    assert run(processor, entry_id) == Outcome(entry_id, True, "deliver")
    assert cur_listings == []
    assert saves == []
    assert len(list(iter_messages(settings.maildir_root, ALICE))) == 4


def test_a_restart_after_delivery_finds_the_copy_moved_to_cur(
    settings: Settings, start: Callable[[], Processor], cur_listings: list[str],
) -> None:
    before = start()
    entry_id = spool_new(before)
    crash_before_finish(before, entry_id)
    moved = read_it(settings)
    after = start()  # the restarted gateway
    assert run(after, entry_id) == Outcome(entry_id, True, "deliver")
    assert list(iter_messages(settings.maildir_root, ALICE)) == [moved]
    assert cur_listings  # looked
    assert after.spool.ids() == []


def test_an_entry_taken_up_by_another_process_is_no_first_attempt_for_its_spooler(
    settings: Settings, start: Callable[[], Processor],
) -> None:
    spooler, other = start(), start()
    entry_id = spool_new(spooler)
    crash_before_finish(other, entry_id)  # the other process delivered it, then died
    assert other.spool.state(entry_id).started  # saved before its delivery
    moved = read_it(settings)
    assert run(spooler, entry_id) == Outcome(entry_id, True, "deliver")
    assert list(iter_messages(settings.maildir_root, ALICE)) == [moved]


def test_a_second_attempt_in_the_same_process_looks_in_cur(
    settings: Settings, start: Callable[[], Processor], cur_listings: list[str],
) -> None:
    processor = start()
    entry_id = spool_new(processor)
    crash_before_finish(processor, entry_id)  # e.g. the removal failed; the sweep retries
    assert cur_listings == []
    moved = read_it(settings)
    assert run(processor, entry_id) == Outcome(entry_id, True, "deliver")
    assert list(iter_messages(settings.maildir_root, ALICE)) == [moved]
    assert cur_listings


def test_a_retry_after_a_deferral_looks_without_another_state_write(
    settings: Settings, start: Callable[[], Processor], cur_listings: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    processor = start()
    bob = "bob@example.com"
    entry_id = spool_new(processor, (ALICE, bob))
    real_deliver = processor.maildir.deliver

    def bob_fails(delivery_id: str, rcpt: str, raw: bytes, **kw: Any) -> Path:
        if rcpt == bob:
            raise OSError("disk full")
        return real_deliver(delivery_id, rcpt, raw, **kw)

    monkeypatch.setattr(processor.maildir, "deliver", bob_fails)
    assert run(processor, entry_id) == Outcome(entry_id, False, "deferred")
    state = processor.spool.state(entry_id)
    assert state.started and state.done == {ALICE: "delivered"}  # saved with the deferral
    monkeypatch.setattr(processor.maildir, "deliver", real_deliver)
    saves: list[str] = []
    real_save = processor.spool.save_state
    monkeypatch.setattr(processor.spool, "save_state",
                        lambda i, s: (saves.append(i), real_save(i, s))[1])
    assert asyncio.run(processor.process(entry_id, now=T0 + 100)) == Outcome(
        entry_id, True, "deliver")
    assert saves == []
    assert cur_listings  # bob's copy was looked for
    assert len(list(iter_messages(settings.maildir_root, ALICE))) == 1
    assert len(list(iter_messages(settings.maildir_root, bob))) == 1


def test_a_recipient_twice_is_looked_for_the_second_time(
    settings: Settings, start: Callable[[], Processor], monkeypatch: pytest.MonkeyPatch,
) -> None:
    processor = start()
    entry_id = spool_new(processor, (ALICE, ALICE.upper()))
    firsts: list[bool] = []
    real_deliver = processor.maildir.deliver

    def spy(delivery_id: str, rcpt: str, raw: bytes, *, first_attempt: bool = False) -> Path:
        firsts.append(first_attempt)
        return real_deliver(delivery_id, rcpt, raw, first_attempt=first_attempt)

    monkeypatch.setattr(processor.maildir, "deliver", spy)
    assert run(processor, entry_id) == Outcome(entry_id, True, "deliver")
    assert firsts == [True, False]  # the same Maildir file: the second may find it in cur/
    assert len(list(iter_messages(settings.maildir_root, ALICE))) == 1
