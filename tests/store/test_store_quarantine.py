"""The quarantine: idempotent holding, per-recipient release and deletion, derived status."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from mailward.errors import StoreError
from mailward.store import MessageRecord, Store, derive_status

RecordFactory = Callable[..., MessageRecord]
RAW = b"From: sender@example.net\r\nSubject: hi\r\n\r\nbody\r\n"
ALICE, BOB, CAROL = "alice@example.org", "bob@example.org", "carol@example.org"


@pytest.fixture
def held(store: Store, make_record: RecordFactory) -> MessageRecord:
    rec = make_record("q1", rcpt_tos=(ALICE, BOB, CAROL))
    assert store.quarantine(rec, RAW)
    return rec


def test_quarantine_stores_entry_and_raw(store: Store, held: MessageRecord) -> None:
    entry = store.get_quarantine(held.id)
    assert entry is not None
    assert (entry.id, entry.subject, entry.score, entry.findings, entry.size) == (
        held.id,
        held.subject,
        held.score,
        held.findings,
        held.size,
    )
    assert entry.rcpt_tos == held.rcpt_tos
    assert entry.status == "held"
    assert entry.recipients == {ALICE: "held", BOB: "held", CAROL: "held"}
    assert list(entry.recipients) == [ALICE, BOB, CAROL]  # envelope order kept
    assert store.quarantine_raw(held.id) == RAW


def test_quarantine_twice_is_a_no_op(store: Store, held: MessageRecord) -> None:
    store.release(held.id, [ALICE], "ana", "ok")
    again = dataclasses.replace(held, subject="changed")
    assert store.quarantine(again, b"other bytes") is False
    entry = store.get_quarantine(held.id)
    assert entry is not None
    assert entry.subject == held.subject
    assert entry.recipients[ALICE] == "released"
    assert store.quarantine_raw(held.id) == RAW


def test_unknown_entry_is_none(store: Store, held: MessageRecord) -> None:
    assert store.get_quarantine("nope") is None
    assert store.quarantine_raw("nope") is None


def test_quarantine_without_recipients_fails(store: Store, make_record: RecordFactory) -> None:
    with pytest.raises(StoreError, match="no recipients"):
        store.quarantine(make_record("empty", rcpt_tos=()), RAW)
    assert store.get_quarantine("empty") is None


def test_duplicate_envelope_recipients_held_once(store: Store, make_record: RecordFactory) -> None:
    assert store.quarantine(make_record("dup", rcpt_tos=(ALICE, ALICE, BOB)), RAW)
    entry = store.get_quarantine("dup")
    assert entry is not None
    assert entry.recipients == {ALICE: "held", BOB: "held"}


def test_release_subset_then_rest(store: Store, held: MessageRecord) -> None:
    assert store.release(held.id, [BOB], "ana", "false positive") == (BOB,)
    entry = store.get_quarantine(held.id)
    assert entry is not None
    assert entry.status == "partial"
    assert entry.recipients == {ALICE: "held", BOB: "released", CAROL: "held"}

    assert store.release(held.id, None, "ana", "rest too") == (ALICE, CAROL)
    entry = store.get_quarantine(held.id)
    assert entry is not None
    assert entry.status == "released"
    assert store.quarantine_raw(held.id) == RAW  # released mail keeps its bytes


def test_release_twice_releases_nothing_more(store: Store, held: MessageRecord) -> None:
    assert store.release(held.id, [ALICE, BOB], "ana", "one") == (ALICE, BOB)
    assert store.release(held.id, [ALICE, BOB], "ana", "two") == ()
    assert store.release(held.id, None, "ana", "three") == (CAROL,)


def test_release_unknown_id_fails(store: Store, held: MessageRecord) -> None:
    with pytest.raises(StoreError, match="no quarantine entry with id 'missing'"):
        store.release("missing", None, "ana", "why")
    assert store.audit_log("missing") == []


def test_release_recipient_not_in_entry_fails_and_changes_nothing(
    store: Store, held: MessageRecord
) -> None:
    with pytest.raises(StoreError, match=r"no recipient mallory@evil\.test"):
        store.release(held.id, [ALICE, "mallory@evil.test"], "ana", "why")
    entry = store.get_quarantine(held.id)
    assert entry is not None
    assert entry.status == "held"
    assert store.audit_log(held.id) == []


def test_release_rejects_a_bare_string(store: Store, held: MessageRecord) -> None:
    with pytest.raises(TypeError):
        store.release(held.id, ALICE, "ana", "why")


def test_delete_some_keeps_raw(store: Store, held: MessageRecord) -> None:
    assert store.delete(held.id, [ALICE], "ana", "phish") == (ALICE,)
    entry = store.get_quarantine(held.id)
    assert entry is not None
    assert entry.status == "partial"
    assert store.quarantine_raw(held.id) == RAW


def test_delete_all_drops_raw_but_keeps_metadata(store: Store, held: MessageRecord) -> None:
    assert store.delete(held.id, None, "ana", "phish") == (ALICE, BOB, CAROL)
    entry = store.get_quarantine(held.id)
    assert entry is not None
    assert entry.status == "deleted"
    assert entry.subject == held.subject
    assert store.quarantine_raw(held.id) == b""


def test_delete_after_partial_release_keeps_raw(store: Store, held: MessageRecord) -> None:
    store.release(held.id, [ALICE], "ana", "fine for alice")
    assert store.delete(held.id, None, "ana", "bad for others") == (BOB, CAROL)
    entry = store.get_quarantine(held.id)
    assert entry is not None
    assert entry.status == "partial"
    assert store.quarantine_raw(held.id) == RAW


def test_delete_does_not_undo_a_release(store: Store, held: MessageRecord) -> None:
    store.release(held.id, [ALICE], "ana", "ok")
    assert store.delete(held.id, [ALICE], "ana", "too late") == ()
    entry = store.get_quarantine(held.id)
    assert entry is not None
    assert entry.recipients[ALICE] == "released"


def test_list_quarantine_filters_by_derived_status(
    store: Store, make_record: RecordFactory
) -> None:
    for i, name in enumerate(["held", "released", "deleted", "partial"]):
        store.quarantine(make_record(name, rcpt_tos=(ALICE, BOB), received_at=float(i)), RAW)
    store.release("released", None, "ana", "r")
    store.delete("deleted", None, "ana", "d")
    store.release("partial", [BOB], "ana", "p")
    for status in ("held", "released", "deleted", "partial"):
        assert [e.id for e in store.list_quarantine(status)] == [status]
    assert [e.id for e in store.list_quarantine()] == ["held"]
    assert [e.id for e in store.list_quarantine(None)] == [
        "partial",
        "deleted",
        "released",
        "held",
    ]
    assert store.list_quarantine(None)[0].recipients == {ALICE: "held", BOB: "released"}


def test_list_quarantine_newest_first_and_limited(store: Store, make_record: RecordFactory) -> None:
    for i, at in enumerate([5.0, 9.0, 7.0]):
        store.quarantine(make_record(f"q{i}", received_at=at), RAW)
    assert [e.id for e in store.list_quarantine()] == ["q1", "q2", "q0"]
    assert [e.id for e in store.list_quarantine(limit=1)] == ["q1"]


def test_list_quarantine_rejects_unknown_status(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown quarantine status"):
        store.list_quarantine("gone")


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["held", "held"], "held"),
        (["released"], "released"),
        (["deleted", "deleted"], "deleted"),
        (["held", "released"], "partial"),
        (["released", "deleted"], "partial"),
    ],
)
def test_derive_status(statuses: list[str], expected: str) -> None:
    assert derive_status(statuses) == expected
