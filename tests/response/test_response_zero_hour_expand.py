"""The zero-hour purge with an expander (the campaigns of what it flags): the expander's
messages are clawed back in the same pass; an expander that fails never stops the purge."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from mailward.config.settings import Settings
from mailward.delivery.maildir import MaildirDelivery, iter_messages, maildir_for, message_name
from mailward.model import Action, Envelope, Verdict
from mailward.response.indicators import entry_from_message, maildir_location
from mailward.response.journal import Journal, JournalHit
from mailward.response.zero_hour import claw_back_hits, zero_hour_purge
from mailward.store import Store, open_store

CLEAN = Verdict(Action.DELIVER, 0.0, "clean")
BAD = Verdict(Action.QUARANTINE, 12.0, "now in a feed")
RCPTS = ("ann@example.com", "ben@example.com", "cat@example.com")


def _raw(i: int) -> bytes:
    return (f"From: x@sender{i}.test\r\nTo: {RCPTS[i]}\r\nSubject: s{i}\r\n"
            f"Message-ID: <m{i}@sender{i}.test>\r\n\r\nbody {i}\r\n").encode()


class FlagFirst:
    """An engine that now judges message 0 bad and the others clean."""

    async def scan(self, raw: bytes, envelope: Envelope) -> Any:
        class Outcome:
            verdict = BAD if b"<m0@" in raw else CLEAN
        return Outcome()


class Expander:
    def __init__(self, journal: Journal, fail: bool = False) -> None:
        self.journal, self.fail = journal, fail
        self.asked: list[str] = []

    def expand(self, flagged: Sequence[JournalHit], why: str) -> list[JournalHit]:
        self.asked += [h.spool_id for h in flagged]
        if self.fail:
            raise RuntimeError("campaign store down")
        return self.journal.by_spool_ids(["s1", "s2"])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Settings, Journal, Store]]:
    settings = Settings.model_validate({"data_dir": str(tmp_path / "data")})
    store = open_store(settings.store_url)
    journal = Journal(settings.store_url)
    maildir = MaildirDelivery(settings.maildir_root)
    for i, rcpt in enumerate(RCPTS):
        maildir.deliver(f"s{i}", rcpt, _raw(i))
        path = maildir_for(settings.maildir_root, rcpt) / "new" / message_name(f"s{i}", rcpt)
        env = Envelope(mail_from="b@x.test", rcpt_tos=(rcpt,), received_at=time.time() - 60)
        journal.record(entry_from_message(f"s{i}", _raw(i), env, CLEAN,
                                          [(rcpt, maildir_location(path))]))
    yield settings, journal, store
    journal.close()
    store.close()


def _left(settings: Settings) -> list[str]:
    return [r for r in RCPTS if list(iter_messages(settings.maildir_root, r))]


def test_the_expanders_messages_are_clawed_back_too(
        world: tuple[Settings, Journal, Store]) -> None:
    settings, journal, store = world
    expander = Expander(journal)
    report = asyncio.run(zero_hour_purge(settings, journal, FlagFirst(), store,  # type: ignore[arg-type]
                                         why="feeds", expander=expander))
    assert expander.asked == ["s0"] and report.flagged == 1 and report.removed == 3
    assert _left(settings) == []


def test_without_an_expander_only_the_flagged_message_goes(
        world: tuple[Settings, Journal, Store]) -> None:
    settings, journal, store = world
    report = asyncio.run(zero_hour_purge(settings, journal, FlagFirst(), store,  # type: ignore[arg-type]
                                         why="feeds"))
    assert report.removed == 1 and _left(settings) == list(RCPTS[1:])


def test_a_failing_expander_never_stops_the_purge(
        world: tuple[Settings, Journal, Store]) -> None:
    settings, journal, store = world
    report = asyncio.run(zero_hour_purge(settings, journal, FlagFirst(), store,  # type: ignore[arg-type]
                                         why="feeds", expander=Expander(journal, fail=True)))
    assert report.removed == 1 and _left(settings) == list(RCPTS[1:])


def test_claw_back_hits_skips_messages_without_a_message_id(
        world: tuple[Settings, Journal, Store]) -> None:
    settings, journal, store = world
    hits = journal.by_spool_ids(["s1"])
    assert [r.status for r in claw_back_hits(settings, store, hits, actor="t", reason="r")] == [
        "removed"]
    no_id = [dataclasses.replace(h, message_id="") for h in journal.by_spool_ids(["s2"])]
    assert claw_back_hits(settings, store, no_id, actor="t", reason="r") == []
    assert _left(settings) == ["ann@example.com", "cat@example.com"]
