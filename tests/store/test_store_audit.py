"""The audit log: one line per release or deletion, with actor, reason, time and recipients."""

from __future__ import annotations

import time
from collections.abc import Callable

from mailward.store import MessageRecord, Store, open_store

RecordFactory = Callable[..., MessageRecord]
ALICE, BOB = "alice@example.org", "bob@example.org"


def test_release_writes_one_audit_line(store: Store, make_record: RecordFactory) -> None:
    store.quarantine(make_record("q", rcpt_tos=(ALICE, BOB)), b"raw")
    before = time.time()
    store.release("q", None, "analyst@corp", "false positive, ticket 42")
    after = time.time()
    (line,) = store.audit_log("q")
    assert (line.actor, line.action, line.object_id) == ("analyst@corp", "release", "q")
    assert line.recipients == (ALICE, BOB)
    assert line.reason == "false positive, ticket 42"
    assert before <= line.at <= after


def test_delete_audit_names_only_deleted_recipients(
    store: Store, make_record: RecordFactory
) -> None:
    store.quarantine(make_record("q", rcpt_tos=(ALICE, BOB)), b"raw")
    store.release("q", [ALICE], "ana", "ok")
    store.delete("q", None, "bo", "malware")
    newest, oldest = store.audit_log("q")
    assert (newest.action, newest.actor, newest.recipients) == ("delete", "bo", (BOB,))
    assert (oldest.action, oldest.actor, oldest.recipients) == ("release", "ana", (ALICE,))


def test_audit_uses_the_injected_clock(store_url: str, make_record: RecordFactory) -> None:
    store = open_store(store_url, clock=lambda: 1234.5)
    try:
        store.quarantine(make_record("q"), b"raw")
        store.delete("q", None, "ana", "x")
        assert [line.at for line in store.audit_log()] == [1234.5]
    finally:
        store.close()


def test_direct_audit_and_filter_by_object(store: Store) -> None:
    store.audit("ops", "lockdown", "gateway", [], "upgrade window")
    store.audit("ops", "clawback", "m-7", [ALICE, BOB], "campaign 3")
    (line,) = store.audit_log("m-7")
    assert (line.actor, line.action, line.recipients, line.reason) == (
        "ops",
        "clawback",
        (ALICE, BOB),
        "campaign 3",
    )
    assert store.audit_log("nothing-here") == []
    assert [line.object_id for line in store.audit_log()] == ["m-7", "gateway"]


def test_audit_log_newest_first_and_limited(store: Store) -> None:
    for i in range(5):
        store.audit("ops", "note", f"o{i}", [], "")
    assert [line.object_id for line in store.audit_log(limit=2)] == ["o4", "o3"]
    ids = [line.id for line in store.audit_log()]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 5
