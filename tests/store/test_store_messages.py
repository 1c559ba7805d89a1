"""The message journal: round-trips, upsert by id, recent-first listing."""

from __future__ import annotations

from collections.abc import Callable

from mailward.model import Finding
from mailward.store import MessageRecord, SqlStore, Store

RecordFactory = Callable[..., MessageRecord]


def test_open_store_returns_a_store(store: Store) -> None:
    assert isinstance(store, Store)
    assert isinstance(store, SqlStore)


def test_message_round_trips_every_field(store: Store, make_record: RecordFactory) -> None:
    rec = make_record(
        findings=(
            Finding("A_ONE", "first", ("e1", "e2"), 0.25, 1.5, "det-a"),
            Finding("B_TWO", "second"),
        )
    )
    store.record_message(rec)
    assert store.get_message(rec.id) == rec


def test_unknown_message_is_none(store: Store, make_record: RecordFactory) -> None:
    store.record_message(make_record("known"))
    assert store.get_message("unknown") is None


def test_record_twice_upserts_one_row(store: Store, make_record: RecordFactory) -> None:
    store.record_message(make_record("m", score=1.0, action="deliver"))
    rescanned = make_record("m", score=20.0, action="quarantine", findings=())
    store.record_message(rescanned)
    assert store.get_message("m") == rescanned
    assert [r.id for r in store.recent_messages()] == ["m"]


def test_record_distinct_ids_keeps_both(store: Store, make_record: RecordFactory) -> None:
    store.record_message(make_record("a"))
    store.record_message(make_record("b"))
    assert sorted(r.id for r in store.recent_messages()) == ["a", "b"]


def test_recent_messages_newest_first_and_limited(store: Store, make_record: RecordFactory) -> None:
    for i, at in enumerate([30.0, 10.0, 20.0]):
        store.record_message(make_record(f"m{i}", received_at=at))
    assert [r.id for r in store.recent_messages()] == ["m0", "m2", "m1"]
    assert [r.id for r in store.recent_messages(limit=2)] == ["m0", "m2"]


def test_empty_store_has_no_recent_messages(store: Store) -> None:
    assert store.recent_messages() == []


def test_null_sender_and_empty_subject_round_trip(store: Store, make_record: RecordFactory) -> None:
    rec = make_record(mail_from="", subject="", rcpt_tos=(), findings=())
    store.record_message(rec)
    assert store.get_message(rec.id) == rec
