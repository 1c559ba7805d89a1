"""Spool.keep_state: the verdict the SMTP session gives an entry it just stored is kept in
memory for the first delivery attempt (no state file written, fsynced, renamed and removed per
message); a crash loses it and the entry counts as not scanned. Spool.finish does not fsync
the removal."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailward.model import Envelope
from mailward.spool import queue
from mailward.spool.queue import Spool, SpoolState

ENVELOPE = Envelope(mail_from="bob@partner.example.net", rcpt_tos=("alice@example.com",),
                    received_at=1_717_000_000.0)
RAW = b"Subject: hello\r\n\r\nbody\r\n"
VERDICT = {"action": "deliver", "score": 0.5, "reason": "clean"}


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool")


def test_a_fresh_entrys_state_is_kept_in_memory_not_written(spool: Spool) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    assert spool.untouched(entry_id)
    assert spool.keep_state(entry_id, SpoolState(verdict=VERDICT, observe="m:1"))
    assert not (spool.states / f"{entry_id}.json").exists()
    assert not spool.untouched(entry_id)  # the SMTP session took it up
    state = spool.state(entry_id)
    assert state.verdict == VERDICT and state.observe == "m:1"
    state.observe = ""  # a copy: changing it without saving changes nothing
    assert spool.state(entry_id).observe == "m:1"


def test_a_crash_loses_the_kept_state_and_the_entry_counts_as_not_scanned(
    spool: Spool, tmp_path: Path,
) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    assert spool.keep_state(entry_id, SpoolState(verdict=VERDICT))
    restarted = Spool(tmp_path / "spool")  # a new process on the same directory
    assert restarted.ids() == [entry_id]
    assert restarted.state(entry_id).verdict is None
    assert restarted.untouched(entry_id)
    assert restarted.due(now=2e9) == [entry_id]


def test_saving_writes_the_state_and_forgets_the_kept_one(spool: Spool, tmp_path: Path) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    assert spool.keep_state(entry_id, SpoolState(verdict=VERDICT))
    spool.save_state(entry_id, SpoolState(verdict=VERDICT, attempts=1, next_attempt=9.0))
    assert Spool(tmp_path / "spool").state(entry_id).attempts == 1  # on disk
    assert spool.state(entry_id).attempts == 1


def test_only_an_entry_put_just_stored_is_kept(spool: Spool) -> None:
    flagged = spool.put(ENVELOPE, RAW, flags={"skip_scan": True})  # not kept fresh
    given = spool.put(ENVELOPE, RAW, entry_id="abcdef0123456789")  # an id the caller gave
    fresh = spool.put(ENVELOPE, RAW)
    assert spool.take_fresh(fresh) is not None  # its first attempt took it already
    for entry_id in (flagged, given, fresh):
        assert not spool.keep_state(entry_id, SpoolState(verdict=VERDICT))
        assert spool.state(entry_id).verdict is None
        assert spool.untouched(entry_id)


def test_finish_forgets_the_kept_state_and_leaves_no_file(spool: Spool) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    assert spool.keep_state(entry_id, SpoolState(verdict=VERDICT))
    spool.finish(entry_id)
    assert spool.ids() == []
    assert spool.state(entry_id).verdict is None
    assert list(spool.states.iterdir()) == []


def test_kept_states_are_bounded(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue, "KEPT_STATES", 2)
    ids = [spool.put(ENVELOPE, RAW) for _ in range(3)]
    for entry_id in ids:
        assert spool.keep_state(entry_id, SpoolState(verdict=VERDICT))
    assert spool.state(ids[0]).verdict is None  # the oldest forgotten: scanned again
    assert [spool.state(i).verdict for i in ids[1:]] == [VERDICT, VERDICT]


def test_finish_does_not_fsync_the_removal(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    spool.save_state(entry_id, SpoolState(verdict=VERDICT))
    synced: list[Path] = []
    monkeypatch.setattr(queue, "fsync_dir", synced.append)
    spool.finish(entry_id)
    assert synced == []
    assert spool.ids() == [] and list(spool.states.iterdir()) == []
