"""Spool: durable put/load, state, due(), finish(), per-entry locks and id checks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mailward.errors import SpoolError
from mailward.model import Envelope
from mailward.spool import queue
from mailward.spool.queue import Spool, SpoolState, check_spool_id, new_spool_id

ENVELOPE = Envelope(
    mail_from="bob@partner.example.net",
    rcpt_tos=("alice@example.com", "carol@example.com"),
    peer_ip="192.0.2.7",
    helo="mx.partner.example.net",
    received_at=1_717_000_000.25,
    authenticated_as="bob",
    tls=True,
    internal=False,
)
# Bare LF, CRLF, a lone CR, 8-bit bytes and a NUL; no final line end.
RAW = b"Subject: caf\xc3\xa9\nX-Bin: \xff\xfe\r\n\r\nline one\r\nbare lf\nlone cr\rend\x00\x80"


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool")


# --- put / load ---------------------------------------------------------------------------


def test_put_load_round_trip_keeps_envelope_flags_and_bytes(spool: Spool) -> None:
    entry_id = spool.put(ENVELOPE, RAW, flags={"skip_scan": True, "why": "test"})
    entry = spool.load(entry_id)
    assert entry.id == entry_id
    assert entry.envelope == ENVELOPE
    assert entry.raw == RAW
    assert dict(entry.flags) == {"skip_scan": True, "why": "test"}


def test_round_trip_keeps_entries_apart(spool: Spool) -> None:
    other = Envelope(mail_from="", rcpt_tos=("dave@example.com",), received_at=5.0)
    first = spool.put(ENVELOPE, RAW)
    second = spool.put(other, b"\n\nstarts with blank lines\n")
    assert first != second
    assert spool.load(second).envelope == other
    assert spool.load(second).raw == b"\n\nstarts with blank lines\n"
    assert spool.load(second).flags == {}
    assert spool.load(first).raw == RAW
    assert spool.ids() == sorted([first, second])


def test_put_with_existing_id_is_a_no_op(spool: Spool) -> None:
    entry_id = "abcdef0123456789"
    assert spool.put(ENVELOPE, RAW, entry_id=entry_id) == entry_id
    other = Envelope(mail_from="eve@evil.example.org", rcpt_tos=("x@example.com",))
    assert spool.put(other, b"replacement", entry_id=entry_id, flags={"x": 1}) == entry_id
    entry = spool.load(entry_id)
    assert entry.envelope == ENVELOPE
    assert entry.raw == RAW
    assert entry.flags == {}
    assert spool.count() == 1


def test_put_with_a_new_id_adds_an_entry(spool: Spool) -> None:
    spool.put(ENVELOPE, RAW, entry_id="abcdef0123456789")
    spool.put(ENVELOPE, b"second", entry_id="abcdef0123456780")
    assert spool.count() == 2
    assert spool.load("abcdef0123456780").raw == b"second"


def test_put_saves_a_given_state(spool: Spool) -> None:
    entry_id = spool.put(ENVELOPE, RAW, state=SpoolState(attempts=3))
    assert spool.state(entry_id).attempts == 3


# --- state --------------------------------------------------------------------------------


def test_state_save_and_load(spool: Spool) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    state = SpoolState(
        verdict={"action": "tag", "score": 6.0, "reason": "r", "findings": []},
        done={"alice@example.com": "delivered"},
        attempts=2,
        next_attempt=1234.5,
        last_errors={"carol@example.com": "451 later"},
        started=True,
    )
    spool.save_state(entry_id, state)
    assert spool.state(entry_id) == state
    assert Spool(spool.root).state(entry_id) == state  # read back from disk, not memory


def test_state_of_an_entry_without_one_is_fresh(spool: Spool) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    assert spool.state(entry_id) == SpoolState()
    assert spool.state(entry_id).verdict is None


@pytest.mark.parametrize("text", [b"{not json", b"[]", b'"a string"', b'{"attempts": "x"}'])
def test_damaged_state_raises_spool_error(spool: Spool, text: bytes) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    (spool.states / f"{entry_id}.json").write_bytes(text)
    with pytest.raises(SpoolError, match="damaged"):
        spool.state(entry_id)


# --- due ----------------------------------------------------------------------------------


def test_due_honours_next_attempt(spool: Spool) -> None:
    fresh = spool.put(ENVELOPE, RAW, entry_id="a0000000000000")
    later = spool.put(ENVELOPE, RAW, entry_id="b0000000000000")
    spool.save_state(later, SpoolState(attempts=1, next_attempt=2000.0))
    assert spool.due(now=1999.0) == [fresh]
    assert spool.due(now=2000.0) == [fresh, later]



def test_due_skips_the_given_ids_without_reading_their_state(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = spool.put(ENVELOPE, RAW, entry_id="a0000000000000")
    other = spool.put(ENVELOPE, RAW, entry_id="b0000000000000")
    read: list[str] = []
    state = spool.state
    monkeypatch.setattr(spool, "state", lambda entry_id: read.append(entry_id) or state(entry_id))
    assert spool.due(now=1.0, skip=frozenset({held})) == [other]
    assert read == [other]
    assert spool.due(now=1.0) == [held, other]

# --- finish -------------------------------------------------------------------------------


def test_finish_removes_message_and_state(spool: Spool) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    spool.save_state(entry_id, SpoolState(attempts=1))
    spool.finish(entry_id)
    assert not (spool.queue / f"{entry_id}.msg").exists()
    assert not (spool.states / f"{entry_id}.json").exists()
    assert spool.ids() == []
    with pytest.raises(SpoolError):
        spool.load(entry_id)


def test_finish_leaves_other_entries(spool: Spool) -> None:
    gone = spool.put(ENVELOPE, RAW, entry_id="a0000000000000")
    kept = spool.put(ENVELOPE, RAW, entry_id="b0000000000000")
    spool.save_state(kept, SpoolState(attempts=4))
    spool.finish(gone)
    spool.finish(gone)  # twice is harmless
    assert spool.ids() == [kept]
    assert spool.state(kept).attempts == 4


# --- locks --------------------------------------------------------------------------------


def test_second_holder_does_not_get_the_lock(spool: Spool) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    other = Spool(spool.root)
    with spool.locked(entry_id) as first, other.locked(entry_id) as second:
        assert first is True
        assert second is False
    with other.locked(entry_id) as again:  # released on exit
        assert again is True


def test_lock_held_in_another_thread_blocks_this_one(spool: Spool) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    holding, release = threading.Event(), threading.Event()
    got: list[bool] = []

    def hold() -> None:
        with Spool(spool.root).locked(entry_id) as mine:
            got.append(mine)
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        assert holding.wait(10)
        with spool.locked(entry_id) as mine:
            assert mine is False
    finally:
        release.set()
        worker.join(10)
    assert got == [True]
    with spool.locked(entry_id) as mine:
        assert mine is True



def test_finish_releases_the_lock_held_on_the_entry_in_its_own_thread(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing the last descriptor of the unlinked message frees its blocks (a journalled
    write): finish does it, in the worker thread that finishes, not the lock's exit on the
    event loop; and only after the message is unlinked."""
    entry_id = spool.put(ENVELOPE, RAW)
    kept = spool.put(ENVELOPE, RAW)
    closed: list[tuple[str, str, bool]] = []  # thread, entry, its message still there
    close = queue.os.close
    lock_fds: dict[int, str] = {}

    def recording_close(fd: int) -> None:
        entry = lock_fds.pop(fd, None)  # once: the number is reused by the next open
        if entry is not None:
            exists = (spool.queue / f"{entry}.msg").exists()
            closed.append((threading.current_thread().name, entry, exists))
        close(fd)

    with spool.locked(entry_id) as mine, spool.locked(kept) as also:
        assert mine and also
        lock_fds.update({lock._fd: entry for entry, lock in spool._held.items()})
        monkeypatch.setattr(queue.os, "close", recording_close)
        finisher = threading.Thread(target=spool.finish, args=(entry_id,), name="finisher")
        finisher.start()
        finisher.join(10)
        assert closed == [("finisher", entry_id, False)]  # released there, after the unlink
        assert spool._held.keys() == {kept}
    assert closed[1:] == [(threading.current_thread().name, kept, True)]  # on exit
    assert spool._held == {}
    with Spool(spool.root).locked(kept) as again:  # the other lock was released on exit
        assert again is True


def test_lock_of_a_missing_or_finished_id_is_false(spool: Spool) -> None:
    with spool.locked("abcdef0123456789") as mine:
        assert mine is False
    entry_id = spool.put(ENVELOPE, RAW)
    spool.finish(entry_id)
    with spool.locked(entry_id) as mine:
        assert mine is False


# --- ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../x", "A", "", "abc", "ABCDEFGHIJ", "a" * 81, "-abcdefgh",
                                 "abcdefgh/..", "abcdefgh\n"])
def test_invalid_ids_are_rejected(spool: Spool, bad: str) -> None:
    with pytest.raises(SpoolError, match="invalid spool id"):
        check_spool_id(bad)
    with pytest.raises(SpoolError, match="invalid spool id"):
        spool.put(ENVELOPE, RAW, entry_id=bad)
    with pytest.raises(SpoolError, match="invalid spool id"):
        spool.load(bad)
    assert spool.count() == 0
    assert list(spool.root.parent.glob("*.msg")) == []


@pytest.mark.parametrize("good", ["abcdefgh", "0" * 80, "rel-0190abc-1f2e3d4c", "a_b-c_d-e"])
def test_valid_ids_are_accepted(spool: Spool, good: str) -> None:
    assert check_spool_id(good) == good
    assert spool.put(ENVELOPE, RAW, entry_id=good) == good
    assert spool.load(good).raw == RAW


def test_new_ids_are_valid_unique_and_time_ordered() -> None:
    early, late = new_spool_id(1000.0), new_spool_id(2000.0)
    assert check_spool_id(early) == early
    assert early < late
    assert new_spool_id(1000.0) != early


# --- damaged entries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"not json at all",
        b"[]",
        b'{"flags": {}}',
        b'{"envelope": {"mail_from": "a@b.example"}}',
        b'{"envelope": {"mail_from": "a", "rcpt_tos": [], "colour": "red"}}',
        b"\xff\xfe{}",
    ],
)
def test_damaged_header_line_raises_spool_error(spool: Spool, head: bytes) -> None:
    (spool.queue / "abcdef0123456789.msg").write_bytes(head + b"\nSubject: x\n\nbody\n")
    with pytest.raises(SpoolError, match="damaged header"):
        spool.load("abcdef0123456789")


def test_intact_hand_written_header_loads(spool: Spool) -> None:
    head = b'{"envelope": {"mail_from": "a@b.example", "rcpt_tos": ["c@example.com"]}}'
    (spool.queue / "abcdef0123456789.msg").write_bytes(head + b"\nSubject: x\n\nbody\n")
    entry = spool.load("abcdef0123456789")
    assert entry.envelope == Envelope(mail_from="a@b.example", rcpt_tos=("c@example.com",))
    assert entry.raw == b"Subject: x\n\nbody\n"


# --- new ids (the processor's first delivery attempts) ------------------------------------


def test_an_id_put_made_is_new_once(spool: Spool) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    assert spool.take_new(entry_id)
    assert not spool.take_new(entry_id)


def test_a_given_id_is_never_new(spool: Spool) -> None:
    """A caller's id (a bounce, a release) may have been delivered before: not new."""
    assert not spool.take_new(spool.put(ENVELOPE, RAW, entry_id="rel-0000000001-abc"))


def test_another_spool_and_a_finished_entry_know_no_new_ids(spool: Spool) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    assert not Spool(spool.root).take_new(entry_id)  # another process, or after a restart
    spool.finish(entry_id)
    assert not spool.take_new(entry_id)


def test_beyond_the_limit_the_oldest_new_id_is_forgotten(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "NEW_KEPT", 2)
    ids = [spool.put(ENVELOPE, RAW) for _ in range(3)]
    assert [spool.take_new(i) for i in ids] == [False, True, True]


# --- fresh entries (the first load of a message just accepted, from memory) ---------------


def test_a_fresh_entry_is_taken_once_as_load_reads_it(spool: Spool) -> None:
    entry_id = spool.put(ENVELOPE, RAW)
    fresh = spool.take_fresh(entry_id)
    assert fresh == spool.load(entry_id)
    assert spool.take_fresh(entry_id) is None  # later attempts read the file


def test_entries_with_flags_given_ids_or_finished_are_not_fresh(spool: Spool) -> None:
    assert spool.take_fresh(spool.put(ENVELOPE, RAW, flags={"bounce": True})) is None
    assert spool.take_fresh(spool.put(ENVELOPE, RAW, entry_id="rel-0000000001-abc")) is None
    entry_id = spool.put(ENVELOPE, RAW)
    spool.finish(entry_id)
    assert spool.take_fresh(entry_id) is None
    assert Spool(spool.root).take_fresh(spool.put(ENVELOPE, RAW)) is None  # another process


def test_fresh_entries_are_kept_within_count_and_bytes(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "FRESH_KEPT", 2)
    ids = [spool.put(ENVELOPE, RAW) for _ in range(3)]
    assert [spool.take_fresh(i) is not None for i in ids] == [False, True, True]
    monkeypatch.setattr(queue, "FRESH_KEPT", 100)
    monkeypatch.setattr(queue, "FRESH_BYTES", 2 * len(RAW))
    ids = [spool.put(ENVELOPE, RAW) for _ in range(3)]
    assert [spool.take_fresh(i) is not None for i in ids] == [False, True, True]
    monkeypatch.setattr(queue, "FRESH_ONE", len(RAW) - 1)
    assert spool.take_fresh(spool.put(ENVELOPE, RAW)) is None  # too big to keep
    assert spool._fresh_bytes == 0
